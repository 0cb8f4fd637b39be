public import FixpointDocuments
public import Foundation

/// Every control, in one place. A new control is one file in Controls/ and one line here; the
/// catalogue test runs every entry.
public enum ControlCatalogue {
  public static let all: [any Control] = [
    S3AccountBlocksPublicAccess(), S3BucketBlocksPublicRead(), S3BucketBlocksPublicWrite(), S3BucketRequiresSSL(),
    S3BucketBlocksPublicAccess(), S3BucketLogging(), S3BucketVersioning(), S3BucketKMSEncryption(), S3BucketMFADelete(),
    EC2SnapshotNotPublic(), EC2DefaultSecurityGroupClosed(), EC2AttachedVolumeEncrypted(), EC2VPCFlowLogs(), EC2EBSDefaultEncryption(),
    EC2RequiresIMDSv2(), EC2NoPublicIP(), EC2NoPublicSSH(), EC2NoPublicRDP(), EC2SubnetNoAutoPublicIP(), EC2OnlyAuthorizedPublicPorts(),
    EC2NoPublicHighRiskPorts(), EC2NetworkACLNoPublicAdminPorts(), EC2NoPublicAdminPortsIPv4(), EC2NoPublicAdminPortsIPv6(),
    IAMUserNoPolicies(), IAMAccessKeysRotated(), IAMConsoleUsersHaveMFA(), IAMPasswordMinimumLength(), IAMPasswordReusePrevention(),
    IAMUnusedCredentialsRemoved(),
    RDSNotPublic(), RDSStorageEncrypted(), RDSDeletionProtected(), RDSBackupsEnabled(), RDSAutoMinorVersionUpgrade(),
    CloudTrailMultiRegionEnabled(), CloudTrailEncrypted(), CloudTrailLogFileValidation(),
    KMSKeyNotPendingDeletion(), KMSKeyRotationEnabled(), GuardDutyEnabled(), LambdaNotPublic(),
  ]

  public static let byID: [String: any Control] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

  /// A control id refused by `selection`: its position in the list and why.
  public struct Unselectable: Error, CustomStringConvertible {
    public var index: Int
    public var reason: String
    public var description: String { self.reason }
  }

  /// The controls an assessment of `framework` runs: the automated controls its requirements name,
  /// or only those of `only` (each must exist and evidence the framework).
  public static func selection(of framework: Framework, only: [String]) throws(Unselectable) -> [any Control] {
    let mapped = Set(framework.requirements.flatMap(\.controls))
    for (i, id) in only.enumerated() {
      guard self.byID[id] != nil else { throw Unselectable(index: i, reason: "unknown control '\(id)'; see ListControls") }
      guard mapped.contains(id) else { throw Unselectable(index: i, reason: "\(id) evidences no requirement of \(framework.id)") }
    }
    let wanted = only.isEmpty ? mapped : Set(only)
    return self.all.filter { wanted.contains($0.id) && $0.automated }
  }

  /// The controls that apply to resources of `type`.
  public static func controls(for type: String) -> [any Control] {
    self.forType[type] ?? []
  }

  private static let forType: [String: [any Control]] = {
    var out: [String: [any Control]] = [:]
    for control in all { for type in control.resourceTypes { out[type, default: []].append(control) } }
    return out
  }()
}

/// Operators' values for controls' parameters (`{"IAM.3": {"max_access_key_age_days": 60}}`),
/// checked against the catalogue: the control and the parameter must exist and the value must have
/// the default's shape (a whole number ≥ 0, a list of them, or a string).
public struct ParameterOverrides: Sendable, Equatable {
  public var values: [String: [String: JSONValue]]

  public init() { self.values = [:] }

  /// Why an override was refused, with the path of what was wrong.
  public struct Invalid: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(self.path): \(self.reason)" }
  }

  public init(json text: String) throws {
    self.values = [:]
    guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
    guard let parsed = try? JSONValue.parse(Array(text.utf8)), let controls = parsed.objectValue else {
      throw Invalid(path: "", reason: "must be a JSON object of control id → {parameter: value}")
    }
    for (id, given) in controls {
      guard let control = ControlCatalogue.byID[id] else { throw Invalid(path: id, reason: "unknown control") }
      guard let values = given.objectValue else { throw Invalid(path: id, reason: "must be an object of parameter → value") }
      for (name, value) in values {
        guard let parameter = control.parameters.first(where: { $0.name == name }) else {
          let known = control.parameters.map(\.name)
          throw Invalid(path: "\(id).\(name)", reason: known.isEmpty ? "\(id) has no parameters" : "unknown parameter; one of \(known.joined(separator: ", "))")
        }
        guard Self.sameShape(value, parameter.defaultValue) else {
          throw Invalid(path: "\(id).\(name)", reason: "must be shaped like the default \(parameter.defaultValue)")
        }
      }
      self.values[id] = values
    }
  }

  static func wholeNumber(_ v: JSONValue) -> Bool { v.numberValue.map { $0 >= 0 && $0.rounded() == $0 && $0 < 1e9 } ?? false }

  static func sameShape(_ value: JSONValue, _ model: JSONValue) -> Bool {
    switch model {
    case .number: Self.wholeNumber(value)
    case .array: value.arrayValue.map { $0.allSatisfy(Self.wholeNumber) } ?? false
    case .string: value.stringValue.map { !$0.isEmpty } ?? false
    default: false
    }
  }

  /// The parameters `control` is evaluated with at `now`.
  public func parameters(for control: any Control, now: Date) -> Parameters {
    Parameters(self.values[control.id] ?? [:], now: now)
  }
}
