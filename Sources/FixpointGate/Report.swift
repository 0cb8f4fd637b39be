public import FixpointControls
import FixpointDocuments
public import FixpointIaC
public import Foundation

extension Gate {
  /// One control on one declared resource.
  public struct Result: Sendable {
    public enum Status: String, Sendable, CaseIterable {
      case pass, fail, notEvaluated = "not_evaluated", notApplicable = "not_applicable", waived
    }

    public var address: String
    public var sourceType: String
    public var type: String
    public var action: String
    public var controlID: String
    public var title: String
    public var severity: Severity
    public var status: Status
    /// Why it fails (which attribute, which value), or why it was not evaluated.
    public var reason: String
    public var paths: [String]
    /// The fix as Terraform: the attribute to set and its value.
    public var fix: String
    /// In words, for every format.
    public var remediation: String
    public var waiver: Waiver?
    /// Where the resource is declared, when `--source-dir` found it.
    public var location: SourceLocation?

    init(resource: DeclaredResource, control: any Control, verdict: Verdict, document: JSONValue, parameters: Parameters) {
      self.address = resource.address
      self.sourceType = resource.sourceType
      self.type = resource.type
      self.action = resource.action
      self.controlID = control.id
      self.title = control.title
      self.severity = control.severity
      self.remediation = control.remediation
      self.paths = []
      self.fix = ""
      switch verdict {
      case .pass: (self.status, self.reason) = (.pass, "")
      case .fail(let paths, let reason):
        (self.status, self.reason, self.paths) = (.fail, reason, paths.map(\.description))
        self.fix = Self.fix(control, document: document, parameters: parameters)
      case .notApplicable(let reason): (self.status, self.reason) = (.notApplicable, reason)
      case .notEvaluated(let reason): (self.status, self.reason) = (.notEvaluated, reason)
      }
    }

    /// `resource.attribute = value`: the control's Terraform attribute, with the value its remedy sets
    /// when that is one value (a flag, a number); "remove" when the remedy deletes (an open rule).
    static func fix(_ control: any Control, document: JSONValue, parameters: Parameters) -> String {
      guard let terraform = control.terraform else { return "" }
      let target = "\(terraform.resource): \(terraform.attribute)"
      guard let operations = control.remedy(document, control.resolving(parameters)), !operations.isEmpty else { return target }
      if operations.allSatisfy({ $0.value == .null }) { return "\(target): remove \(operations.map { $0.path.segments.last ?? "" }.joined(separator: "; "))" }
      var leaves = Set<JSONValue>()
      func collect(_ v: JSONValue) {
        switch v {
        case .object(let o): for value in o.values { collect(value) }
        case .array(let a): for value in a { collect(value) }
        default: leaves.insert(v)
        }
      }
      for operation in operations { collect(operation.value) }
      if leaves.count == 1, let only = leaves.first { return "\(target) = \(only)" }
      return "\(target) (\(operations.map(\.description).joined(separator: "; ")))"
    }
  }

  /// What a run found, and the verdict of the gate.
  public struct Report: Sendable {
    public var file: String
    public var format: IaCFormat
    public var framework: String
    public var failOn: Severity
    public var results: [Result]
    public var resourcesAssessed: Int
    /// Resources a plan leaves unchanged, when they are not assessed (`--include-unchanged`);
    /// deletes and data sources are not declared resources at all.
    public var resourcesSkipped: Int
    /// Source types no control reads yet, with counts.
    public var unsupported: [String: Int]
    public var expiredWaivers: [Waiver]
    public var unusedWaivers: [Waiver]

    public var failures: [Result] { self.results.filter { $0.status == .fail } }
    /// Failures at or above `failOn`: what fails the gate.
    public var blocking: [Result] { self.failures.filter { $0.severity >= self.failOn } }
    /// 0 when nothing at or above `--fail-on` fails, 1 when something does.
    public var exitCode: Int32 { self.blocking.isEmpty ? 0 : 1 }

    public func count(_ status: Result.Status) -> Int { self.results.count { $0.status == status } }

    /// Failures by severity, worst first, every severity named.
    public var failuresBySeverity: [(Severity, Int)] {
      Severity.allCases.reversed().map { severity in (severity, self.failures.count { $0.severity == severity }) }
    }

    public var summary: String {
      let bySeverity = self.failuresBySeverity.filter { $0.0 != .informational || $0.1 > 0 }.map { "\($0.0.rawValue) \($0.1)" }
      let verdict = self.exitCode == 0 ? "passed" : "FAILED: \(self.blocking.count) at or above \(self.failOn.rawValue)"
      return "\(self.resourcesAssessed) resources assessed, \(self.results.count) checks: \(self.count(.pass)) passed, "
        + "\(self.count(.fail)) failed (\(bySeverity.joined(separator: ", "))), \(self.count(.notEvaluated)) not evaluated, "
        + "\(self.count(.waived)) waived, \(self.count(.notApplicable)) not applicable; gate \(verdict)"
    }

    /// Places every result at the `.tf` line declaring its resource, or failing that at the line of
    /// the definition file where its address first appears.
    public mutating func locate(sourceDir: String?, definition: Data) {
      let map = sourceDir.map(SourceMap.scan)
      let lines = SourceMap.lines(of: Set(self.results.map(\.address)), in: definition)
      for i in self.results.indices {
        let address = self.results[i].address
        self.results[i].location =
          map?.location(of: address, sourceType: self.results[i].sourceType)
          ?? SourceLocation(file: self.file, line: lines[address] ?? 1, declared: false)
      }
    }
  }
}

/// Where a resource is declared.
public struct SourceLocation: Sendable, Hashable {
  public var file: String
  public var line: Int
  /// True for the `.tf` block; false for a line of the plan or template.
  public var declared: Bool
}

/// `resource "TYPE" "NAME"` blocks of a Terraform source tree.
public struct SourceMap: Sendable {
  /// "TYPE.NAME" → where declared (several when modules reuse a name).
  var blocks: [String: [SourceLocation]] = [:]

  /// Reads every `.tf` file under `dir` (not `.terraform/`, at most 10,000 files of 10 MB each).
  public static func scan(_ dir: String) -> SourceMap {
    var map = SourceMap()
    let root = URL(fileURLWithPath: dir)
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else { return map }
    var files = 0
    let prefix = dir.hasSuffix("/") ? dir : dir + "/"
    for case let url as URL in walker {
      if url.lastPathComponent == ".terraform" { walker.skipDescendants(); continue }
      guard url.pathExtension == "tf", files < 10_000 else { continue }
      let size = (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
      guard size <= 10 * 1024 * 1024, let data = try? Data(contentsOf: url) else { continue }
      files += 1
      let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count).drop { $0 == "/" })
      let shown = (dir == "." ? "" : prefix) + relative
      var number = 0
      for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        guard let (type, name) = Self.resourceBlock(line) else { continue }
        map.blocks["\(type).\(name)", default: []].append(SourceLocation(file: shown, line: number, declared: true))
      }
    }
    return map
  }

  /// `resource "aws_s3_bucket" "logs" {` → ("aws_s3_bucket", "logs").
  static func resourceBlock(_ line: Substring) -> (String, String)? {
    let trimmed = line.drop { $0 == " " || $0 == "\t" }
    guard trimmed.hasPrefix("resource") else { return nil }
    let quoted = trimmed.split(separator: "\"", omittingEmptySubsequences: false)
    guard quoted.count >= 5, quoted[0].trimmingCharacters(in: .whitespaces) == "resource",
      quoted[2].trimmingCharacters(in: .whitespaces).isEmpty, !quoted[1].isEmpty, !quoted[3].isEmpty
    else { return nil }
    return (String(quoted[1]), String(quoted[3]))
  }

  /// The block of `address` (`module.net.aws_security_group.web["a"]`): the one block of that type
  /// and name, or among several the one under a directory named like the innermost module.
  func location(of address: String, sourceType: String) -> SourceLocation? {
    var plain = ""
    var depth = 0
    for c in address {
      if c == "[" { depth += 1 } else if c == "]" { depth -= 1 } else if depth == 0 { plain.append(c) }
    }
    let parts = plain.split(separator: ".").map(String.init)
    guard parts.count >= 2 else { return nil }
    let name = parts[parts.count - 1]
    let candidates = self.blocks["\(sourceType).\(name)"] ?? self.blocks["\(parts[parts.count - 2]).\(name)"] ?? []
    if candidates.count == 1 { return candidates[0] }
    let modules = stride(from: 0, to: parts.count - 2, by: 2).compactMap { parts[$0] == "module" && $0 + 1 < parts.count ? parts[$0 + 1] : nil }
    if let innermost = modules.last {
      let under = candidates.filter { $0.file.split(separator: "/").contains { $0 == Substring(innermost) } }
      if under.count == 1 { return under[0] }
    } else {
      let top = candidates.filter { !$0.file.contains("modules/") }
      if top.count == 1 { return top[0] }
    }
    return nil
  }

  /// The line where each of `addresses` first appears in a definition: quoted (a plan's
  /// `"address": "…"`, a JSON template's logical id) or as a YAML key (`LogicalId:`). One pass.
  static func lines(of addresses: Set<String>, in data: Data) -> [String: Int] {
    var found: [String: Int] = [:]
    let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), newline = UInt8(ascii: "\n"), colon = UInt8(ascii: ":")
    let lengths = Set(addresses.map(\.utf8.count))
    data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      let bytes = raw.bindMemory(to: UInt8.self)
      var line = 1
      var lineStart = 0
      var i = 0
      func consider(_ start: Int, _ end: Int, escaped: Bool) {
        guard lengths.contains(end - start) || escaped else { return }
        var text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        if escaped { text = text.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\") }
        if found[text] == nil, addresses.contains(text) { found[text] = line }
      }
      while i < bytes.count, found.count < addresses.count {
        let byte = bytes[i]
        if byte == newline {
          line += 1
          i += 1
          lineStart = i
        } else if byte == quote {
          // A quoted token: a plan's "address": "…", a JSON template's logical id.
          var j = i + 1
          var escaped = false
          while j < bytes.count, bytes[j] != quote, bytes[j] != newline {
            if bytes[j] == backslash { escaped = true; j += 1 }
            j += 1
          }
          if j < bytes.count, bytes[j] == quote {
            consider(i + 1, j, escaped: escaped)
            i = j + 1
          } else {
            i = j  // unterminated on this line: the newline is counted next
          }
        } else if byte == colon {
          // A YAML key at the start of a line: `  LogicalId:`.
          var start = lineStart
          while start < i, bytes[start] == UInt8(ascii: " ") { start += 1 }
          if start < i { consider(start, i, escaped: false) }
          i += 1
        } else {
          i += 1
        }
      }
    }
    return found
  }
}
