public import FixpointDocuments
public import Foundation

/// Reading Infrastructure-as-Code definitions: which format a file is, what it declares, and
/// the copy of it that may be kept.
public enum IaC {
  /// The largest definition accepted.
  public static let maxBytes = 50 * 1024 * 1024
  public static let redactedValue: JSONValue = "(redacted by Fixpoint)"

  /// A file's content, parsed once: JSON, or YAML documents.
  enum Source {
    case json(JSONValue)
    case yaml([JSONValue])

    /// Terraform files are JSON; a template is JSON when it starts with `{`, else YAML;
    /// manifests are YAML; a file of no known format is read as its first character says.
    static func read(_ data: Data, as format: IaCFormat?) throws -> Source {
      let body = Terraform.text(data)
      let json: Bool
      switch format {
      case .terraformState?, .terraformPlan?: json = true
      case .kubernetes?: json = false
      case .cloudFormation?, nil: json = body.first(where: { !" \t\r\n".utf8.contains($0) }) == UInt8(ascii: "{")
      }
      return json ? .json(try JSONValue.parseDefinition(body)) : .yaml(try YAMLDocuments.parse(body))
    }

    var format: IaCFormat? {
      switch self {
      case .json(let root):
        guard case .object = root else { return nil }
        if root["format_version"] != nil, root["resource_changes"] != nil || root["planned_values"] != nil { return .terraformPlan }
        if root["version"] != nil, root["resources"] != nil { return .terraformState }
        return root["Resources"] != nil ? .cloudFormation : nil
      case .yaml(let documents):
        if documents.count == 1, documents[0]["Resources"] != nil { return .cloudFormation }
        return documents.contains(where: { $0["apiVersion"] != nil && $0["kind"] != nil }) ? .kubernetes : nil
      }
    }

    var documents: [JSONValue] {
      switch self {
      case .json(let root): [root]
      case .yaml(let documents): documents
      }
    }
  }

  /// YAML documents as JSON values (CloudFormation's short-form tags kept), for other files the
  /// tools read (the CI gate's waivers).
  public static func yaml(_ data: Data) throws -> [JSONValue] { try YAMLDocuments.parse(data) }

  /// The format of a file, from its content; nil when it is none of them.
  public static func detect(_ data: Data) -> IaCFormat? { (try? Source.read(data, as: nil))?.format }

  public static func parse(_ data: Data, format: IaCFormat) throws -> ParsedDefinition {
    try Self.declared(try Self.source(data, format: format), format: format)
  }

  /// A file read once: its format (detected when nil; a file of none says why, with the JSON or
  /// YAML error if it is not even that), what it declares, and the copy that may be kept.
  public static func read(_ data: Data, format: IaCFormat?) throws -> (format: IaCFormat, definition: ParsedDefinition, kept: Data) {
    let (source, format) = try Self.detected(data, format: format)
    return (format, try Self.declared(source, format: format), Self.kept(source, data: data, format: format))
  }

  /// What a file declares, without the copy to keep (the CI gate stores nothing).
  public static func declared(_ data: Data, format: IaCFormat?) throws -> (format: IaCFormat, definition: ParsedDefinition) {
    let (source, format) = try Self.detected(data, format: format)
    return (format, try Self.declared(source, format: format))
  }

  static func detected(_ data: Data, format: IaCFormat?) throws -> (Source, IaCFormat) {
    let source = try Self.source(data, format: format)
    guard let format = format ?? source.format else {
      throw IaCError("", "not a Terraform state or plan, a CloudFormation template or Kubernetes manifests")
    }
    return (source, format)
  }

  /// The copy of an uploaded file that is kept. Terraform state and plans hold every attribute in
  /// clear, secrets included (an access key's `secret`, a database's `password`): those values,
  /// by name, and opaque provider data are replaced. A Kubernetes Secret keeps no values.
  public static func storable(_ data: Data, format: IaCFormat) throws -> Data {
    Self.kept(try Self.source(data, format: format), data: data, format: format)
  }

  static func source(_ data: Data, format: IaCFormat?) throws -> Source {
    guard data.count <= Self.maxBytes else { throw IaCError("", "the file is \(data.count) bytes; the limit is \(Self.maxBytes)") }
    return try Source.read(data, as: format)
  }

  static func declared(_ source: Source, format: IaCFormat) throws -> ParsedDefinition {
    switch (format, source) {
    case (.terraformState, .json(let root)): try Terraform.state(root)
    case (.terraformPlan, .json(let root)): try Terraform.plan(root)
    case (.terraformState, _), (.terraformPlan, _): throw IaCError("$", "a Terraform file is JSON")
    case (.cloudFormation, _): try CloudFormation.template(source)
    case (.kubernetes, _): try Kubernetes.manifests(source.documents)
    }
  }

  static func kept(_ source: Source, data: Data, format: IaCFormat) -> Data {
    switch format {
    case .terraformState, .terraformPlan: Self.redactingSecrets(source.documents.first ?? .null).canonicalData
    case .cloudFormation: data
    case .kubernetes: JSONValue.array(source.documents.map(Kubernetes.redacted)).canonicalData
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
