public import FixpointDocuments
import Foundation

/// Literal paths, for controls' declarations.
func paths(_ texts: String...) -> [DocumentPath] {
  texts.map { text in
    guard let p = try? DocumentPath(text) else { preconditionFailure("bad literal path \(text)") }
    return p
  }
}

/// A path from segments (for keys that hold spaces or dots: rule keys, access key ids).
func at(_ segments: String...) -> DocumentPath { DocumentPath(segments: segments) }

/// A security group or network ACL rule as the document holds it.
struct NetworkRule {
  var key: String
  var proto: String
  var from: Int
  var to: Int
  var cidrIPv4: String?
  var cidrIPv6: String?

  /// The rules of a rule map (`ingress`, `egress`), in key order.
  static func all(_ document: JSONValue, _ field: String) -> [NetworkRule] {
    (document[field]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { key, rule in
      NetworkRule(
        key: key, proto: rule["protocol"]?.stringValue ?? "-1",
        from: rule["from_port"]?.intValue ?? -1, to: rule["to_port"]?.intValue ?? -1,
        cidrIPv4: rule["cidr_ipv4"]?.stringValue, cidrIPv6: rule["cidr_ipv6"]?.stringValue)
    }
  }

  var allProtocols: Bool { self.proto == "-1" || self.proto == "all" }
  var openIPv4: Bool { self.cidrIPv4 == "0.0.0.0/0" }
  var openIPv6: Bool { self.cidrIPv6 == "::/0" }
  var openToAll: Bool { self.openIPv4 || self.openIPv6 }

  /// Whether the rule lets `port` in over TCP or UDP (`protocols`).
  func covers(_ port: Int, protocols: Set<String> = ["tcp", "udp"]) -> Bool {
    if self.allProtocols { return true }
    guard protocols.contains(self.proto) else { return false }
    if self.from == -1 && self.to == -1 { return true }
    return self.from <= port && port <= self.to
  }
}

/// Rules open to the world (`v4`: 0.0.0.0/0, `v6`: ::/0) that let any of `ports` in.
func openRules(_ document: JSONValue, ports: [Int], v4: Bool, v6: Bool, protocols: Set<String> = ["tcp", "udp"]) -> [NetworkRule] {
  NetworkRule.all(document, "ingress").filter { rule in
    ((v4 && rule.openIPv4) || (v6 && rule.openIPv6)) && ports.contains { rule.covers($0, protocols: protocols) }
  }
}

/// The verdict and the fix for "no ingress rule open to the world on these ports".
func portVerdict(_ rules: [NetworkRule], what: String) -> Verdict {
  rules.isEmpty
    ? .pass
    : .fail(
      paths: rules.map { at("ingress", $0.key) },
      reason: "\(rules.count) ingress rule\(rules.count == 1 ? "" : "s") open \(what) to the internet: \(rules.map(\.key).joined(separator: "; "))")
}

/// Revoking each of `rules`.
func revoking(_ rules: [NetworkRule], field: String = "ingress") -> [PathOperation] {
  rules.map { PathOperation(at(field, $0.key), .null) }
}

/// IAM and AWS timestamps, with or without fractional seconds.
func parseDate(_ text: String?) -> Date? {
  guard let text, !text.isEmpty else { return nil }
  return (try? Date(text, strategy: plainISO8601)) ?? (try? Date(text, strategy: fractionalISO8601))
}

private let plainISO8601 = Date.ISO8601FormatStyle()
private let fractionalISO8601 = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

/// Whole days from `date` to `now`.
func days(from date: Date, to now: Date) -> Int { Int(now.timeIntervalSince(date) / 86_400) }

/// A resource policy's statements, whether `Statement` is a list or one object.
func statements(_ policy: JSONValue?) -> [JSONValue] {
  guard let s = policy?["Statement"] else { return [] }
  return s.arrayValue ?? [s]
}

/// A string-or-list policy member as a list.
func strings(_ value: JSONValue?) -> [String] {
  guard let value else { return [] }
  if let s = value.stringValue { return [s] }
  return value.arrayValue?.compactMap(\.stringValue) ?? []
}

/// Whether a statement's principal is everyone (`"*"` or `{"AWS": "*"}`).
func isPublicPrincipal(_ statement: JSONValue) -> Bool {
  guard let principal = statement["Principal"] else { return false }
  if principal.stringValue == "*" { return true }
  return strings(principal["AWS"]).contains("*")
}

/// Whether an Allow statement grants everyone an action matching one of `actions` (service-prefixed,
/// lower case), with no condition to narrow it.
func grantsPublicly(_ statement: JSONValue, anyOf actions: Set<String>) -> Bool {
  guard statement["Effect"]?.stringValue == "Allow", isPublicPrincipal(statement), statement["Condition"] == nil else { return false }
  return strings(statement["Action"]).contains { granted in
    let g = granted.lowercased()
    if g == "*" { return true }
    if g.hasSuffix("*") { return actions.contains { $0.hasPrefix(String(g.dropLast())) } }
    return actions.contains(g)
  }
}

/// The four public access block flags, all on.
let fullPublicAccessBlock: JSONValue = [
  "block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true,
]

/// The flags of a public access block that are off (or the block is absent).
func publicAccessBlockGaps(_ document: JSONValue) -> [String] {
  let block = document["public_access_block"]
  return ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"].filter {
    block?[$0]?.boolValue != true
  }
}
