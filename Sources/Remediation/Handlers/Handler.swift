import FixpointCore
import FixpointProtocol
import Foundation
import SwiftProtobuf

/// What a handler declares about itself.
struct HandlerInfo: Sendable {
  var name: String
  var description: String
  /// Security Hub (FSBP) control ids, and CIS AWS Foundations Benchmark v3.0.0 requirements as
  /// `cis-3.0/<requirement>` (the version is part of the id: CIS renumbers between versions).
  var controlIDs: [String]
  var findingTypes: [String] = []
  var resourceTypes: [String]
  var tier: Fixpoint_V1_Tier
  var risk: Fixpoint_V1_Severity
  var permissions: [String]
  var reversible: Bool
  /// Execution first makes a new access key whose secret inventory delivers to
  /// `dispatcher.iam.key.sink` (ApplyChange's new_access_key_sink).
  var deliversNewAccessKey = false

  var proto: Fixpoint_V1_Handler {
    .with {
      $0.name = self.name
      $0.description_p = self.description
      $0.controlIds = self.controlIDs
      $0.findingTypes = self.findingTypes
      $0.tier = self.tier
      $0.risk = self.risk
      $0.permissions = self.permissions
      $0.reversible = self.reversible
      $0.resourceTypes = self.resourceTypes
    }
  }
}

/// A handler's plan for one resource: the exact change set (paths and values in inventory's
/// document, docs/resources.md), a plain-language description, and its risk for this resource.
struct HandlerPlan: Sendable {
  var operations: [Fixpoint_V1_PathOperation]
  var description: String
  var risk: Fixpoint_V1_Severity
  /// For handlers that make no change.
  var guidance: String = ""
}

/// Handler configuration from the dispatcher's settings.
struct HandlerConfig: Sendable {
  /// `dispatcher.s3.encryption.kms.key`: SSE-KMS with this key; empty means SSE-S3 (AES256).
  var s3KMSKey: String = ""
  /// `dispatcher.iam.key.sink`: where a rotated access key's new secret goes; empty refuses.
  var iamKeySink: String = ""
  /// `dispatcher.iam.key.max.age.days`: IAMAccessKeyRotation rotates active keys at least this old.
  var iamKeyMaxAgeDays: Int = 90
  /// Security groups used by more interfaces than this get a raised risk.
  var busyGroupInterfaces: Int = 5
}

/// A remediation handler: validate and plan are pure; execution, verification and rollback go
/// through inventory's snapshot, apply and restore RPCs with the planned change set.
protocol RemediationHandler: Sendable {
  var info: HandlerInfo { get }
  /// The plan for `resource`, or an error saying why this handler cannot fix it.
  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan
}

extension RemediationHandler {
  /// Validate: the resource must be of a type this handler fixes.
  func requireType(_ resource: Fixpoint_V1_Resource) throws(ServiceError) {
    guard self.info.resourceTypes.contains(resource.type) else {
      throw .failedPrecondition("\(self.info.name) fixes \(self.info.resourceTypes.joined(separator: ", ")), not \(resource.type)")
    }
  }

  static func op(_ path: String, _ value: Google_Protobuf_Value) -> Fixpoint_V1_PathOperation {
    .with { $0.path = path; $0.value = value }
  }
}

/// Every handler, in one place.
enum HandlerCatalogue {
  static let all: [any RemediationHandler] = [
    BlockPublicAdminPorts(), S3BucketPublicAccessBlock(), S3AccountPublicAccessBlock(), S3DefaultEncryption(), IMDSv2Enforcement(),
    IAMAccessKeyRotation(), GuardDutyEnablement(), RDSBackupEnablement(), RDSPublicAccessDisable(), RDSDeletionProtection(),
    CloudTrailLogFileValidation(), KMSKeyRotation(), EBSDefaultEncryption(), ManualGuidance(),
  ]

  static let byName: [String: any RemediationHandler] = Dictionary(uniqueKeysWithValues: all.map { ($0.info.name, $0) })

  /// The handler for a control id or finding type, if any; where several declare it (CIS 2.1.4
  /// covers buckets and the account), the one for the finding's resource type.
  static func matching(controlID: String, findingType: String, resourceType: String = "") -> (any RemediationHandler)? {
    let candidates = self.all.filter { h in
      (!controlID.isEmpty && h.info.controlIDs.contains(controlID)) || (!findingType.isEmpty && h.info.findingTypes.contains(findingType))
    }
    return candidates.first { $0.info.resourceTypes.contains(resourceType) } ?? candidates.first
  }
}

extension Fixpoint_V1_Resource {
  func field(_ name: String) -> Google_Protobuf_Value? { self.configuration.fields[name] }
}
