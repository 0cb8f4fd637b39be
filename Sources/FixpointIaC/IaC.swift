public import FixpointDocuments
public import Foundation

/// Reading Infrastructure-as-Code definitions: which format a file is, what it declares, and
/// the copy of it that may be kept.
public enum IaC {
  /// The largest definition accepted.
  public static let maxBytes = 50 * 1024 * 1024
  public static let redactedValue: JSONValue = "(redacted by Fixpoint)"

  /// The format of a file, from its content; nil when it is none of them.
  public static func detect(_ data: Data) -> IaCFormat? {
    let body = Terraform.text(data)
    if let json = try? JSONValue.parse(body), case .object = json {
      if json["format_version"] != nil, json["resource_changes"] != nil || json["planned_values"] != nil { return .terraformPlan }
      if json["version"] != nil, json["resources"] != nil { return .terraformState }
      if json["Resources"] != nil { return .cloudFormation }
      return nil
    }
    guard let documents = try? YAMLDocuments.parse(body) else { return nil }
    if documents.count == 1, documents[0]["Resources"] != nil { return .cloudFormation }
    if documents.contains(where: { $0["apiVersion"] != nil && $0["kind"] != nil }) { return .kubernetes }
    return nil
  }

  /// The format of a file; when it is none, why: the JSON or YAML error, located, if it is not
  /// even that.
  public static func format(of data: Data) throws -> IaCFormat {
    if let format = Self.detect(data) { return format }
    let body = Terraform.text(data)
    if body.first(where: { !" \t\r\n".utf8.contains($0) }) == UInt8(ascii: "{") {
      _ = try JSONValue.parseDefinition(body)
    } else {
      _ = try YAMLDocuments.parse(body)
    }
    throw IaCError("", "not a Terraform state or plan, a CloudFormation template or Kubernetes manifests")
  }

  public static func parse(_ data: Data, format: IaCFormat) throws -> ParsedDefinition {
    guard data.count <= Self.maxBytes else { throw IaCError("", "the file is \(data.count) bytes; the limit is \(Self.maxBytes)") }
    switch format {
    case .terraformState: return try Terraform.parseState(data)
    case .terraformPlan: return try Terraform.parsePlan(data)
    case .cloudFormation: return try CloudFormation.parse(data)
    case .kubernetes: return try Kubernetes.parse(data)
    }
  }

  /// The copy of an uploaded file that is kept. Terraform state and plans hold every attribute in
  /// clear, secrets included (an access key's `secret`, a database's `password`): those values,
  /// by name, and opaque provider data are replaced. A Kubernetes Secret keeps no values.
  public static func storable(_ data: Data, format: IaCFormat) throws -> Data {
    switch format {
    case .terraformState, .terraformPlan:
      return Self.redactingSecrets(try JSONValue.parseDefinition(Terraform.text(data))).canonicalData
    case .kubernetes:
      let documents = try YAMLDocuments.parse(data).map(Kubernetes.redacted)
      return JSONValue.array(documents).canonicalData
    case .cloudFormation:
      return data
    }
  }

  static let secretWords = ["password", "secret", "private_key", "token", "key_material"]

  static func redactingSecrets(_ value: JSONValue) -> JSONValue {
    switch value {
    case .object(let o):
      var out: [String: JSONValue] = [:]
      for (k, v) in o {
        let lower = k.lowercased()
        let secret = lower == "private" || Self.secretWords.contains { lower.contains($0) }
        out[k] = secret && v != .null && v.arrayValue?.isEmpty != true && lower != "sensitive_attributes" ? Self.redactedValue : Self.redactingSecrets(v)
      }
      return .object(out)
    case .array(let a): return .array(a.map(Self.redactingSecrets))
    default: return value
    }
  }
}
