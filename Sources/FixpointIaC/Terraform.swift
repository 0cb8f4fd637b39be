public import FixpointDocuments
public import Foundation

/// Terraform state (v4) and plan JSON (`terraform show -json`, format 0.x and 1.x), read into the
/// resources they declare (see `../shared/reference/drift-iac.md` §1–3).
public enum Terraform {
  /// One resource instance as Terraform holds it, unknown and sensitive values masked.
  public struct Instance: Sendable {
    public var address: String
    /// The address without the instance key: `module.a.aws_s3_bucket.b`.
    public var block: String
    public var module: String
    public var type: String
    public var attributes: JSONValue
    public var action: String
  }

  public static func parseState(_ data: Data) throws -> ParsedDefinition {
    try Self.state(try JSONValue.parseDefinition(Self.text(data)))
  }

  static func state(_ root: JSONValue) throws -> ParsedDefinition {
    guard case .object = root else { throw IaCError("$", "a Terraform state is a JSON object") }
    guard let version = root["version"]?.intValue else { throw IaCError("$.version", "missing: not a Terraform state") }
    guard version == 4 else {
      throw IaCError("$.version", "state version \(version) is not supported (Terraform 0.12 and later write version 4; `terraform state pull` upgrades)")
    }
    guard let resources = root["resources"]?.arrayValue else { throw IaCError("$.resources", "missing or not an array") }
    var instances: [Instance] = []
    for (i, resource) in resources.enumerated() {
      let at = "$.resources[\(i)]"
      guard case .object = resource else { throw IaCError(at, "not an object") }
      let mode = resource["mode"]?.stringValue ?? "managed"
      guard mode == "managed" || mode == "data" else { throw IaCError("\(at).mode", "must be managed or data, not '\(mode)'") }
      guard let type = resource["type"]?.stringValue, !type.isEmpty else { throw IaCError("\(at).type", "missing") }
      guard let name = resource["name"]?.stringValue, !name.isEmpty else { throw IaCError("\(at).name", "missing") }
      guard let list = resource["instances"]?.arrayValue else { throw IaCError("\(at).instances", "missing or not an array") }
      // Data sources are reads, not infrastructure the definition owns.
      guard mode == "managed" else { continue }
      let module = resource["module"]?.stringValue ?? ""
      let block = (module.isEmpty ? "" : module + ".") + "\(type).\(name)"
      for (j, instance) in list.enumerated() {
        let iat = "\(at).instances[\(j)]"
        // A deposed object is an old copy kept by create_before_destroy, on its way out.
        if instance["deposed"]?.stringValue != nil { continue }
        guard var attributes = instance["attributes"], case .object = attributes else { throw IaCError("\(iat).attributes", "missing or not an object") }
        for (k, path) in (instance["sensitive_attributes"]?.arrayValue ?? []).enumerated() {
          guard let steps = path.arrayValue else { throw IaCError("\(iat).sensitive_attributes[\(k)]", "not a path") }
          attributes = Self.masking(attributes, steps: steps[...])
        }
        instances.append(Instance(
          address: block + Self.indexSuffix(instance["index_key"]), block: block, module: module, type: type, attributes: attributes, action: ""))
      }
    }
    return Self.declared(instances, format: .terraformState, references: [:])
  }

  public static func parsePlan(_ data: Data) throws -> ParsedDefinition {
    try Self.plan(try JSONValue.parseDefinition(Self.text(data)))
  }

  static func plan(_ root: JSONValue) throws -> ParsedDefinition {
    guard case .object = root else { throw IaCError("$", "a Terraform plan is a JSON object") }
    guard let version = root["format_version"]?.stringValue else {
      throw IaCError("$.format_version", "missing: not a Terraform plan (write one with `terraform show -json PLANFILE`)")
    }
    guard let major = version.split(separator: ".").first.flatMap({ Int($0) }), major == 0 || major == 1 else {
      throw IaCError("$.format_version", "plan format \(version) is not supported (0.x and 1.x are)")
    }
    var instances: [Instance] = []
    for (i, change) in (root["resource_changes"]?.arrayValue ?? []).enumerated() {
      let at = "$.resource_changes[\(i)]"
      guard let address = change["address"]?.stringValue, let type = change["type"]?.stringValue else {
        throw IaCError(at, "needs address and type")
      }
      guard (change["mode"]?.stringValue ?? "managed") == "managed", change["deposed"]?.stringValue == nil else { continue }
      guard let actions = change["change"]?["actions"]?.arrayValue?.compactMap(\.stringValue), !actions.isEmpty else {
        throw IaCError("\(at).change.actions", "missing")
      }
      // After a delete nothing is declared.
      if actions == ["delete"] { continue }
      guard var after = change["change"]?["after"], case .object = after else { throw IaCError("\(at).change.after", "missing or not an object") }
      after = Self.masking(after, mask: change["change"]?["after_unknown"] ?? .null)
      after = Self.masking(after, mask: change["change"]?["after_sensitive"] ?? .null)
      let module = change["module_address"]?.stringValue ?? ""
      let block = (module.isEmpty ? "" : module + ".") + "\(type).\(change["name"]?.stringValue ?? "")"
      let action = actions.count == 2 ? "replace" : actions[0]
      instances.append(Instance(address: address, block: block, module: module, type: type, attributes: after, action: action))
    }
    var references: [String: [String: String]] = [:]
    if let module = root["configuration"]?["root_module"] { Self.collectReferences(module, prefix: "", into: &references) }
    return Self.declared(instances, format: .terraformPlan, references: references)
  }

  /// JSON text from a file as written: UTF-8 (a byte-order mark dropped), or UTF-16 with a
  /// byte-order mark, which Windows PowerShell's `>` writes.
  static func text(_ data: Data) -> Data {
    if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) {
      let encoding: String.Encoding = data.starts(with: [0xFF, 0xFE]) ? .utf16LittleEndian : .utf16BigEndian
      if let s = String(data: data.dropFirst(2), encoding: encoding) { return Data(s.utf8) }
    }
    if data.starts(with: [0xEF, 0xBB, 0xBF]) { return data.dropFirst(3) }
    return data
  }

  static func indexSuffix(_ key: JSONValue?) -> String {
    switch key {
    case .number(let n)?: "[\(Int(n))]"
    case .string(let s)?: "[\"\(s)\"]"
    default: ""
    }
  }

  /// `after_unknown` / `after_sensitive`: the same nesting as the value, `true` where masked.
  static func masking(_ value: JSONValue, mask: JSONValue) -> JSONValue {
    switch mask {
    case .bool(true): return Declared.unknown
    case .object(let m):
      guard case .object(var o) = value else { return m.isEmpty ? value : (value == .null ? value : Declared.unknown) }
      for (k, sub) in m { o[k] = Self.masking(o[k] ?? .null, mask: sub) }
      return .object(o)
    case .array(let m):
      guard case .array(var a) = value else { return value }
      for i in a.indices where i < m.count { a[i] = Self.masking(a[i], mask: m[i]) }
      return .array(a)
    default:
      return value
    }
  }

  /// A state's sensitive path: `[{"type":"get_attr","value":"password"}, {"type":"index",…}]`.
  static func masking(_ value: JSONValue, steps: ArraySlice<JSONValue>) -> JSONValue {
    guard let step = steps.first else { return Declared.unknown }
    let rest = steps.dropFirst()
    switch (value, step["value"]) {
    case (.object(var o), .string(let key)?):
      if let child = o[key] { o[key] = Self.masking(child, steps: rest) }
      return .object(o)
    case (.array(var a), .number(let n)?) where a.indices.contains(Int(n)):
      a[Int(n)] = Self.masking(a[Int(n)], steps: rest)
      return .array(a)
    default:
      return value
    }
  }

  /// The plan's configuration: for each resource block, the resource each argument refers to
  /// (`bucket = aws_s3_bucket.logs.id` → `aws_s3_bucket.logs`), to join split resources onto
  /// their bucket or group when the value itself is not known until apply.
  static func collectReferences(_ module: JSONValue, prefix: String, into out: inout [String: [String: String]]) {
    for resource in module["resources"]?.arrayValue ?? [] {
      guard let address = resource["address"]?.stringValue else { continue }
      var refs: [String: String] = [:]
      for (argument, expression) in resource["expressions"]?.objectValue ?? [:] {
        for reference in expression["references"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
          let parts = reference.split(separator: ".")
          if parts.count >= 2, parts[0].hasPrefix("aws_") {
            refs[argument] = prefix + parts[0] + "." + (parts[1].split(separator: "[").first.map(String.init) ?? "")
            break
          }
        }
      }
      out[prefix + address] = refs
    }
    for (name, call) in module["module_calls"]?.objectValue ?? [:] {
      if let child = call["module"] { Self.collectReferences(child, prefix: prefix + "module.\(name).", into: &out) }
    }
  }
}
