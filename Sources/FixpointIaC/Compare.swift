public import FixpointDocuments
import Foundation

/// A live resource as inventory holds it.
public struct LiveResource: Sendable, Hashable {
  public var id: String
  public var type: String
  public var externalID: String
  public var name: String
  public var region: String
  public var document: JSONValue
  public init(id: String, type: String, externalID: String, name: String, region: String, document: JSONValue) {
    self.id = id
    self.type = type
    self.externalID = externalID
    self.name = name
    self.region = region
    self.document = document
  }
}

/// A definition against the live resources in its scope, as driftctl reports it: **changed**
/// (attribute differences on a matched resource), **missing** (declared, not live), **unmanaged**
/// (live, not declared), and coverage = managed ÷ (managed + unmanaged), per type and overall.
public struct IaCComparison: Sendable {
  public struct Changed: Sendable {
    public var declared: DeclaredResource
    public var live: LiveResource
    /// The live document as the definition would have it (for classifying the change).
    public var expected: JSONValue
    /// `before` is the declared value, `after` the live one.
    public var differences: [PathDifference]
  }
  public struct Missing: Sendable {
    public var declared: DeclaredResource
    public var reason: String
  }
  public struct Coverage: Sendable, Equatable {
    public var managed: Int
    public var unmanaged: Int
    public init(managed: Int, unmanaged: Int) {
      self.managed = managed
      self.unmanaged = unmanaged
    }
    public var ratio: Double { self.managed + self.unmanaged == 0 ? 1 : Double(self.managed) / Double(self.managed + self.unmanaged) }
  }

  public var changed: [Changed] = []
  public var missing: [Missing] = []
  public var unmanaged: [LiveResource] = []
  /// Matched resources without differences, by address.
  public var inSync: [String] = []
  public var coverageByType: [String: Coverage] = [:]
  public var coverage: Coverage {
    self.coverageByType.values.reduce(Coverage(managed: 0, unmanaged: 0)) { Coverage(managed: $0.managed + $1.managed, unmanaged: $0.unmanaged + $1.unmanaged) }
  }

  /// Compares `declared` with `live` (the live resources of the definition's scope: its provider,
  /// regions and types). `defaultRegion` places per-region settings the definition does not place.
  public static func compare(
    declared: [DeclaredResource], live: [LiveResource], ignore: IgnoreRules = IgnoreRules(), defaultRegion: String? = nil
  ) -> IaCComparison {
    var out = IaCComparison()
    var index: [String: [Int]] = [:]
    for (i, resource) in live.enumerated() {
      let keys = ResourceIdentity.keys(type: resource.type, document: resource.document)
      for key in keys.isEmpty ? ["region:\(resource.region)"] : keys { index["\(resource.type) \(key)", default: []].append(i) }
    }
    var matched = Set<Int>()
    for resource in declared where !resource.type.isEmpty {
      if ignore.ignores(type: [resource.sourceType, resource.type], ids: [resource.address, resource.key ?? ""]) { continue }
      let key = resource.key ?? "region:\(resource.region ?? defaultRegion ?? "")"
      guard !key.isEmpty else {
        out.missing.append(Missing(declared: resource, reason: resource.action == "create" ? "not created yet" : "the definition gives it no identity to match"))
        continue
      }
      let candidates = (index["\(resource.type) \(key)"] ?? []).filter { resource.region == nil || live[$0].region == resource.region }
      guard let at = candidates.first else {
        out.missing.append(Missing(declared: resource, reason: "no live \(resource.type) \(key)"))
        continue
      }
      matched.insert(at)
      let target = live[at]
      var expected = Declared.expected(live: target.document, declared: resource.document)
      var differences: [PathDifference] = []
      for difference in diff(expected, target.document, type: target.type) {
        if ignore.ignores(type: [resource.sourceType, resource.type], ids: [resource.address, key, target.name, target.id, target.externalID], path: difference.path) {
          // An ignored path is expected to be as it is live, so that whatever reads `expected`
          // (the drift classifier) does not see it either.
          expected.set(difference.after, at: difference.path)
        } else {
          differences.append(difference)
        }
      }
      if differences.isEmpty {
        out.inSync.append(resource.address)
      } else {
        out.changed.append(Changed(declared: resource, live: target, expected: expected, differences: differences))
      }
    }
    for (i, resource) in live.enumerated() {
      if matched.contains(i) {
        out.coverageByType[resource.type, default: Coverage(managed: 0, unmanaged: 0)].managed += 1
      } else if !ignore.ignores(type: [resource.type], ids: [resource.name, resource.id, resource.externalID]) {
        out.unmanaged.append(resource)
        out.coverageByType[resource.type, default: Coverage(managed: 0, unmanaged: 0)].unmanaged += 1
      }
    }
    return out
  }
}

/// An ignore file, like driftctl's `.driftignore`: one rule per line, `TYPE.ID` (a whole
/// resource) or `TYPE.ID.PATH` (one attribute path and what is under it); `*` and `?` are wildcards
/// in each part; a dot inside an id is written `\.`; a leading `!` un-ignores what an earlier rule
/// ignored (the last matching rule wins); `#` starts a comment. TYPE is the definition's type
/// (`aws_s3_bucket`) or inventory's (`s3_bucket`); ID matches the address, the bucket name or id,
/// or the live resource's name, id or ARN.
public struct IgnoreRules: Sendable, Equatable {
  struct Rule: Sendable, Equatable {
    var negated: Bool
    var type: String
    var id: String
    var path: String?
  }
  var rules: [Rule] = []

  public init() {}

  public init(parsing text: String) throws(IaCError) {
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      var line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let negated = line.hasPrefix("!")
      if negated { line.removeFirst() }
      var parts: [String] = [""]
      var escaped = false
      for c in line {
        if escaped { parts[parts.count - 1].append(c); escaped = false; continue }
        if c == "\\" { escaped = true; continue }
        if c == "." && parts.count < 3 { parts.append(""); continue }
        parts[parts.count - 1].append(c)
      }
      guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty, parts.count == 2 || !parts[2].isEmpty else {
        throw IaCError("line \(n + 1)", "'\(line)' is not TYPE.ID or TYPE.ID.PATH")
      }
      self.rules.append(Rule(negated: negated, type: parts[0], id: parts[1], path: parts.count == 3 ? parts[2] : nil))
    }
  }

  public var isEmpty: Bool { self.rules.isEmpty }

  /// Whether a resource (no path) or one of its paths is ignored.
  public func ignores(type: [String], ids: [String], path: DocumentPath? = nil) -> Bool {
    var ignored = false
    let text = path?.description
    for rule in self.rules {
      guard type.contains(where: { Self.glob(rule.type, $0) }), ids.contains(where: { !$0.isEmpty && Self.glob(rule.id, $0) }) else { continue }
      if let wanted = rule.path {
        guard let text, Self.glob(wanted, text) || Self.glob(wanted + ".*", text) || Self.glob(wanted + "[*", text) else { continue }
      }
      ignored = !rule.negated
    }
    return ignored
  }

  /// `*` any run of characters, `?` one.
  static func glob(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern), t = Array(text)
    var (pi, ti, star, mark) = (0, 0, -1, 0)
    while ti < t.count {
      if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
        pi += 1; ti += 1
      } else if pi < p.count && p[pi] == "*" {
        star = pi; mark = ti; pi += 1
      } else if star >= 0 {
        pi = star + 1; mark += 1; ti = mark
      } else {
        return false
      }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
  }
}
