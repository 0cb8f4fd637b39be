public import FixpointControls
public import FixpointDocuments
public import Foundation

/// The formats a report is written in.
public enum GateFormat: String, Sendable, CaseIterable {
  case table, json, sarif, junit
}

extension Gate.Report {
  public func render(_ format: GateFormat, version: String) -> Data {
    switch format {
    case .table: Data(self.table().utf8)
    case .json: self.jsonObject(version: version).text()
    case .sarif: self.sarif(version: version).text()
    case .junit: Data(self.junit().utf8)
    }
  }

  // MARK: Table

  /// Per failing resource: the address, control, severity, reason and the fix; then what was
  /// waived and what could not be evaluated, in counts; then the summary.
  public func table() -> String {
    var out = ""
    let failures = self.failures.sorted { ($1.severity, $0.address, $0.controlID) < ($0.severity, $1.address, $1.controlID) }
    for r in failures {
      let blocking = r.severity >= self.failOn ? "FAIL" : "fail"
      out += "\(blocking)  \(r.severity.rawValue.uppercased())  \(r.address)  \(r.controlID)  \(r.title)\n"
      out += "      why: \(r.reason)\n"
      out += "      fix: \(r.fix.isEmpty ? r.remediation : r.fix)\n"
      if let at = r.location { out += "      at:  \(at.file):\(at.line)\n" }
    }
    let waived = self.results.filter { $0.status == .waived }
    for r in waived {
      out += "waived  \(r.address)  \(r.controlID)  until \(r.waiver?.expires ?? "")  (\(r.waiver?.owner ?? ""): \(r.waiver?.reason ?? ""))\n"
    }
    for w in self.expiredWaivers {
      out += "expired waiver  \(w.control)  \(w.resource)  expired \(w.expires) (\(w.owner)); it no longer applies\n"
    }
    if !self.unsupported.isEmpty {
      out += "not assessed (no controls for these types yet): "
        + self.unsupported.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "\n"
    }
    out += self.summary + "\n"
    return out
  }

  // MARK: JSON

  func jsonObject(version: String) -> JSONValue {
    let blocking = self.blocking.count
    return [
      "tool": "fixpoint gate", "version": .string(version), "file": .string(self.file), "format": .string(self.format.rawValue),
      "framework": .string(self.framework), "fail_on": .string(self.failOn.rawValue), "passed": .bool(blocking == 0),
      "summary": [
        "resources_assessed": .number(Double(self.resourcesAssessed)), "resources_skipped": .number(Double(self.resourcesSkipped)),
        "checks": .number(Double(self.results.count)), "passed": .number(Double(self.count(.pass))), "failed": .number(Double(self.count(.fail))),
        "blocking": .number(Double(blocking)), "not_evaluated": .number(Double(self.count(.notEvaluated))),
        "not_applicable": .number(Double(self.count(.notApplicable))), "waived": .number(Double(self.count(.waived))),
        "failed_by_severity": .object(Dictionary(uniqueKeysWithValues: self.failuresBySeverity.map { ($0.0.rawValue, JSONValue.number(Double($0.1))) })),
      ],
      "results": .array(self.results.map { r in
        var o: [String: JSONValue] = [
          "address": .string(r.address), "resource_type": .string(r.sourceType), "action": .string(r.action), "control_id": .string(r.controlID),
          "title": .string(r.title), "severity": .string(r.severity.rawValue), "status": .string(r.status.rawValue), "reason": .string(r.reason),
          "paths": .array(r.paths.map(JSONValue.string)),
        ]
        if !r.fix.isEmpty { o["fix"] = .string(r.fix) }
        if r.status == .fail { o["remediation"] = .string(r.remediation) }
        if let w = r.waiver { o["waiver"] = Self.waiverObject(w) }
        if let at = r.location, at.declared { o["source"] = ["file": .string(at.file), "line": .number(Double(at.line))] }
        return .object(o)
      }),
      "expired_waivers": .array(self.expiredWaivers.map(Self.waiverObject)),
      "unused_waivers": .array(self.unusedWaivers.map(Self.waiverObject)),
      "unsupported_types": .object(self.unsupported.mapValues { .number(Double($0)) }),
    ]
  }

  static func waiverObject(_ w: Waiver) -> JSONValue {
    ["control": .string(w.control), "resource": .string(w.resource), "reason": .string(w.reason), "owner": .string(w.owner), "expires": .string(w.expires)]
  }

  // MARK: SARIF 2.1.0

  /// One run; a rule per control that failed (its id is the control id, stable across runs), a
  /// result per failure with a location GitHub accepts and a fingerprint so a re-upload updates
  /// the same alert.
  func sarif(version: String) -> JSONValue {
    let failures = self.failures
    var ruleIDs: [String] = []
    var index: [String: Int] = [:]
    for r in failures where index[r.controlID] == nil {
      index[r.controlID] = ruleIDs.count
      ruleIDs.append(r.controlID)
    }
    let rules = ruleIDs.compactMap { ControlCatalogue.byID[$0] }.map { control -> JSONValue in
      [
        "id": .string(control.id), "name": .string(control.id.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "/", with: "_")),
        "shortDescription": ["text": .string(control.title)], "fullDescription": ["text": .string(control.title)],
        "help": ["text": .string(control.remediation + (control.terraform.map { " Terraform: \($0.resource) \($0.attribute)." } ?? "")),
                 "markdown": .string("**\(control.title)**\n\n\(control.remediation)")],
        "helpUri": .string(Reporting.helpURI(control.id)),
        "defaultConfiguration": ["level": .string(Reporting.level(control.severity))],
        "properties": ["security-severity": .string(Reporting.securitySeverity(control.severity)), "tags": ["security", .string(control.severity.rawValue)]],
      ]
    }
    let results = failures.map { r -> JSONValue in
      let at = r.location ?? SourceLocation(file: self.file, line: 1, declared: false)
      return [
        "ruleId": .string(r.controlID), "ruleIndex": .number(Double(index[r.controlID] ?? 0)), "level": .string(Reporting.level(r.severity)),
        "message": ["text": .string("\(r.address): \(r.reason)" + (r.fix.isEmpty ? "" : ". Fix: \(r.fix)"))],
        "locations": [[
          "physicalLocation": ["artifactLocation": ["uri": .string(Self.uri(at.file))], "region": ["startLine": .number(Double(max(1, at.line)))]],
          "logicalLocations": [["fullyQualifiedName": .string(r.address), "kind": "resource"]],
        ]],
        "partialFingerprints": ["primaryLocationLineHash": .string(Self.fingerprint(r.controlID + "|" + r.address) + ":1")],
        "properties": ["severity": .string(r.severity.rawValue), "resource_type": .string(r.sourceType)],
      ]
    }
    return [
      "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
      "runs": [[
        "tool": ["driver": ["name": "Fixpoint", "semanticVersion": .string(version), "rules": .array(rules)]],
        "results": .array(results),
        "automationDetails": ["id": .string("fixpoint-gate/\(self.framework)/")],
      ]],
    ]
  }

  /// A relative path as given; an absolute one as a file URI.
  static func uri(_ path: String) -> String {
    var relative = path
    while relative.hasPrefix("./") { relative.removeFirst(2) }
    guard relative.hasPrefix("/") else { return relative }
    return URL(fileURLWithPath: relative).absoluteString
  }

  /// FNV-1a, 64 bits, hex: stable across runs and machines.
  static func fingerprint(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return String(hash, radix: 16).leftPadded(to: 16)
  }

  // MARK: JUnit

  /// One test suite, a test case per (resource, control): a failure for each failing pair (at or
  /// below `--fail-on` alike), skipped for waived, not evaluated and not applicable ones.
  func junit() -> String {
    let skipped = self.results.count { [.waived, .notEvaluated, .notApplicable].contains($0.status) }
    var out = #"<?xml version="1.0" encoding="utf-8"?>"# + "\n"
    out += #"<testsuites name="fixpoint gate" tests="\#(self.results.count)" failures="\#(self.count(.fail))" skipped="\#(skipped)" errors="0">"# + "\n"
    out += #"  <testsuite name="\#(XMLText.escape("fixpoint gate \(self.format.rawValue) \(self.file)"))" tests="\#(self.results.count)" failures="\#(self.count(.fail))" skipped="\#(skipped)" errors="0">"# + "\n"
    out += "    <properties>\n"
    for (name, value) in [("framework", self.framework), ("fail-on", self.failOn.rawValue), ("file", self.file)] {
      out += #"      <property name="\#(name)" value="\#(XMLText.escape(value))"/>"# + "\n"
    }
    out += "    </properties>\n"
    for r in self.results {
      let at = r.location ?? SourceLocation(file: self.file, line: 1, declared: false)
      let name = "[\(r.severity.rawValue.uppercased())][\(r.controlID)] \(r.title)"
      out += #"    <testcase name="\#(XMLText.escape(name))" classname="\#(XMLText.escape(at.file + "." + r.address))" file="\#(XMLText.escape(at.file))">"#
      switch r.status {
      case .pass:
        break
      case .fail:
        let body = "Resource: \(r.address)\nReason: \(r.reason)\nFix: \(r.fix.isEmpty ? r.remediation : r.fix)\nFile: \(at.file):\(at.line)\nGuide: \(Reporting.helpURI(r.controlID))"
        out += "\n" + #"      <failure type="failure" message="\#(XMLText.escape(r.title))">\#(XMLText.escape(body))</failure>"# + "\n    "
      case .waived:
        out += "\n" + #"      <skipped message="\#(XMLText.escape("waived until \(r.waiver?.expires ?? ""): \(r.waiver?.reason ?? "")"))"/>"# + "\n    "
      case .notEvaluated, .notApplicable:
        out += "\n" + #"      <skipped message="\#(XMLText.escape("\(r.status.rawValue.replacingOccurrences(of: "_", with: " ")): \(r.reason)"))"/>"# + "\n    "
      }
      out += "</testcase>\n"
    }
    out += "  </testsuite>\n</testsuites>\n"
    return out
  }
}

/// How report formats that others read spell Fixpoint's facts: SARIF levels and GitHub's
/// security-severity scores, the Security Hub guide page of a control. The gate's reports
/// and the compliance service's exports both use these.
public enum Reporting {
  /// SARIF's level for a severity.
  public static func level(_ severity: Severity) -> String {
    switch severity {
    case .critical, .high: "error"
    case .medium: "warning"
    case .low, .informational: "note"
    }
  }

  /// GitHub's security-severity bands: low 0.1–3.9, medium 4–6.9, high 7–8.9, critical 9+.
  public static func securitySeverity(_ severity: Severity) -> String {
    switch severity {
    case .critical: "9.5"
    case .high: "8.0"
    case .medium: "5.5"
    case .low: "3.0"
    case .informational: "1.0"
    }
  }

  /// The control's page in the Security Hub user guide (`S3.8` → s3-controls.html#s3-8).
  public static func helpURI(_ id: String) -> String {
    let parts = id.split(separator: ".")
    guard parts.count == 2, !id.contains("/") else { return "https://docs.aws.amazon.com/securityhub/latest/userguide/cis-aws-foundations-benchmark.html" }
    let service = parts[0].lowercased()
    return "https://docs.aws.amazon.com/securityhub/latest/userguide/\(service)-controls.html#\(service)-\(parts[1].lowercased())"
  }
}

extension String {
  func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - self.count)) + self }
}
