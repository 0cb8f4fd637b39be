public import FixpointDocuments
import Foundation

/// The formats a definition can be uploaded in.
public enum IaCFormat: String, Sendable, CaseIterable {
  case terraformState = "terraform-state"
  case terraformPlan = "terraform-plan"
  case cloudFormation = "cloudformation"
  case kubernetes
}

/// A malformed definition: where (a line, or a JSON path) and what.
public struct IaCError: Error, CustomStringConvertible, Equatable {
  public var location: String
  public var reason: String
  public init(_ location: String, _ reason: String) {
    self.location = location
    self.reason = reason
  }
  public var description: String { self.location.isEmpty ? self.reason : "\(self.location): \(self.reason)" }
}

/// One resource a definition declares, as the document inventory would hold for it.
///
/// `document` holds only the fields the definition states; a value the definition does not know
/// (Terraform's unknown-until-apply values, sensitive values, CloudFormation intrinsics) is
/// `Declared.unknown` and is never compared.
public struct DeclaredResource: Sendable, Hashable {
  /// The address in the definition: `module.net.aws_security_group.web["a"]`, a logical id.
  public var address: String
  /// The definition's own type (`aws_s3_bucket`, `AWS::S3::Bucket`, `apps/v1/Deployment`).
  public var sourceType: String
  /// inventory's resource type; empty for types with no live counterpart yet (Kubernetes).
  public var type: String
  /// What identifies the live resource (`ResourceIdentity.keys`): a bucket name, `sg-…`, `name:…`.
  /// Nil when the type has one resource per region (ebs_encryption_default).
  public var key: String?
  public var region: String?
  public var document: JSONValue
  /// The plan's action for it (`create`, `update`, `no-op`, …); empty outside plans.
  public var action: String
  /// What the definition implies the live document will hold after apply, in fields it does not
  /// state as such (`associate_public_ip_address = true` means a `public_ip` will be assigned; a
  /// key Terraform creates is customer-managed). Assessment uses these; drift does not compare them.
  public var implied: [String: JSONValue]

  public init(
    address: String, sourceType: String, type: String, key: String?, region: String? = nil, document: JSONValue, action: String = "",
    implied: [String: JSONValue] = [:]
  ) {
    self.address = address
    self.sourceType = sourceType
    self.type = type
    self.key = key
    self.region = region
    self.document = document
    self.action = action
    self.implied = implied
  }
}

/// A parsed definition: its resources, and what it holds that Fixpoint does not convert.
public struct ParsedDefinition: Sendable {
  public var format: IaCFormat
  public var resources: [DeclaredResource]
  /// Source types declared but not converted (no counterpart in inventory yet), with counts.
  public var unsupported: [String: Int]
  public init(format: IaCFormat, resources: [DeclaredResource], unsupported: [String: Int]) {
    self.format = format
    self.resources = resources
    self.unsupported = unsupported
  }
}

public enum Declared {
  /// The value of anything the definition does not know: never compared, never stored as a value.
  public static let unknown = JSONValue.string("\u{1}(known after apply)")
  /// A value that will exist after apply but is not known yet (a public address to be assigned).
  public static let assigned = JSONValue.string("(assigned at apply)")

  /// Whether `value` is, or holds, an unknown value.
  public static func holdsUnknown(_ value: JSONValue) -> Bool {
    switch value {
    case .string: value == Self.unknown
    case .array(let items): items.contains(where: Self.holdsUnknown)
    case .object(let members): members.contains { $0.key.contains(Self.unknownText) || Self.holdsUnknown($0.value) }
    default: false
    }
  }

  static let unknownText = Self.unknown.stringValue!

  /// The live document as the definition would have it: each field the definition declares
  /// replaces the live field whole (so a live rule it does not declare differs), except that an
  /// unknown leaf keeps the live value, and a field whose map keys are unknown is left live.
  public static func expected(live: JSONValue, declared: JSONValue) -> JSONValue {
    guard case .object(var fields) = live, case .object(let stated) = declared else { return live }
    for (field, value) in stated {
      if case .object(let members) = value, members.keys.contains(where: { $0.contains(Self.unknownText) }) { continue }
      let merged = Self.fillUnknown(value, from: fields[field] ?? .null)
      fields[field] = merged == .null ? nil : merged
    }
    return .object(fields)
  }

  private static func fillUnknown(_ value: JSONValue, from live: JSONValue) -> JSONValue {
    if value == Self.unknown { return live }
    switch value {
    case .object(let members):
      var out: [String: JSONValue] = [:]
      for (k, v) in members {
        let filled = Self.fillUnknown(v, from: live[k] ?? .null)
        if filled != .null { out[k] = filled }
      }
      return .object(out)
    case .array(let items):
      // A list with an unknown item cannot be compared item by item: keep the live list.
      return items.contains(where: Self.holdsUnknown) ? live : value
    default:
      return value
    }
  }
}

/// How a live document is recognised as a declared one, per inventory type.
public enum ResourceIdentity {
  /// The keys a live resource answers to; a declared resource's `key` must be one of them.
  public static func keys(type: String, document: JSONValue) -> [String] {
    func s(_ field: String) -> String? { document[field]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
    switch type {
    case ResourceTypeName.s3Bucket: return [s("name")].compactMap { $0 }
    case ResourceTypeName.securityGroup: return [s("id"), s("name").map { "name:\($0)" }].compactMap { $0 }
    case ResourceTypeName.ec2Instance: return [s("id")].compactMap { $0 }
    case ResourceTypeName.rdsInstance: return [s("identifier")].compactMap { $0 }
    case ResourceTypeName.kmsKey: return [s("key_id")].compactMap { $0 }
    case ResourceTypeName.cloudTrailTrail: return [s("name")].compactMap { $0 }
    case ResourceTypeName.guardDutyDetector: return [s("detector_id")].compactMap { $0 }
    case ResourceTypeName.iamUser: return [s("user_name")].compactMap { $0 }
    default: return []
    }
  }
}

extension JSONValue {
  /// The JSON parse, with a malformed file's error placed at its line and column.
  static func parseDefinition(_ data: Data) throws -> JSONValue {
    do {
      return try JSONValue.parse(data)
    } catch let error as JSONParseError {
      throw IaCError("line \(error.line)", "not valid JSON: \(error.reason) (column \(error.column))")
    }
  }
}
