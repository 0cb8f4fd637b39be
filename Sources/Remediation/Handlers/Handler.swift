import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation

/// What a handler declares about itself. What it checks and the change that fixes it are its
/// controls' (FixpointControls); the handler adds how a fix is run: tier, risk, permissions,
/// reversibility, and the steps of a procedural fix.
struct HandlerInfo: Sendable {
  var name: String
  var description: String
  /// The catalogue controls it fixes: a plan is the control's remedy, verification is the control
  /// passing on a fresh read.
  var fixes: [String]
  /// Other ids findings use for the same fix (retired or split ids); they resolve to the first
  /// control of `fixes` that applies to the resource.
  var aliases: [String] = []
  var findingTypes: [String] = []
  var resourceTypes: [String]
  var tier: Tier
  var risk: Severity
  var permissions: [String]
  var reversible: Bool
  /// Execution first makes a new access key whose secret inventory delivers to
  /// `dispatcher.iam.key.sink` (ApplyChange's new_access_key_sink).
  var deliversNewAccessKey = false
  /// Plans from the resource's latest baseline (inventory's) and verifies by the values written,
  /// not by a control (RevertToBaseline).
  var revertsToBaseline = false

  /// Every control id a finding may carry for this handler: its controls, their CIS AWS
  /// Foundations v3.0.0 requirements as `cis-3.0/<requirement>` (from the framework data; the
  /// version is part of the id because CIS renumbers), and the aliases.
  var controlIDs: [String] {
    let cis = self.fixes.flatMap { id in
      FrameworkCatalogue.requirements(of: id).filter { $0.framework == "cis-aws-3.0" }.map { "cis-3.0/\($0.requirement)" }
    }
    var seen = Set<String>()
    return (self.fixes + cis + self.aliases).filter { seen.insert($0).inserted }
  }
}

/// A handler's plan for one resource: the exact change set (paths and values in inventory's
/// document, docs/resources.md), a plain-language description, and its risk for this resource.
struct HandlerPlan: Sendable {
  var operations: [PathOperation]
  var description: String
  var risk: Severity
  /// For handlers that make no change.
  var guidance: String = ""
}

/// Handler configuration from the dispatcher's settings.
struct HandlerConfig: Sendable {
  /// `dispatcher.s3.encryption.kms.key`: the KMS key S3.17's fix uses; empty means the AWS
  /// managed key aws/s3.
  var s3KMSKey: String = ""
  /// `dispatcher.iam.key.sink`: where a rotated access key's new secret goes; empty refuses.
  var iamKeySink: String = ""
  /// `dispatcher.iam.key.max.age.days`: IAM.3's limit; active keys at least this old are rotated.
  var iamKeyMaxAgeDays: Int = 90
  /// Security groups used by more interfaces than this get a raised risk.
  var busyGroupInterfaces: Int = 5

  /// The control parameters these settings set.
  func parameters(for controlID: String) -> Parameters {
    switch controlID {
    case "S3.17": Parameters(["kms_key_id": .string(self.s3KMSKey)])
    case "IAM.3": Parameters(["max_access_key_age_days": .number(Double(self.iamKeyMaxAgeDays))])
    default: Parameters()
    }
  }
}

/// A remediation handler: planning is pure (the control's remedy); execution, verification and
/// rollback go through inventory's snapshot, apply and restore RPCs with the planned change set.
protocol RemediationHandler: Sendable {
  var info: HandlerInfo { get }
  /// The plan that makes `control` pass on `resource`, or an error saying why there is none: the
  /// resource already passes ("already compliant"), the control does not apply, a field it needs
  /// could not be read, or this handler cannot fix it.
  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan
  /// The control a finding's id names for a resource of `resourceType` (see the default).
  func control(for id: String, resourceType: String) -> (any Control)?
}

extension RemediationHandler {
  /// The catalogue controls this handler fixes.
  var controls: [any Control] { self.info.fixes.compactMap { ControlCatalogue.byID[$0] } }

  /// The control a finding's id names for a resource of `resourceType`: the control itself, the
  /// one evidencing a `cis-3.0/…` requirement, or for an alias or an empty id (a finding type) the
  /// first control that applies. nil for an id this handler does not know.
  func control(for id: String, resourceType: String) -> (any Control)? {
    self.resolve(id, resourceType: resourceType, aliasesFallBack: true)
  }

  /// The control `id` names among this handler's controls for `resourceType`: itself, or the one
  /// evidencing a `cis-3.0/…` requirement; an empty id means the first that applies. With
  /// `aliasesFallBack`, an alias or an unmatched CIS id also means the first that applies.
  func resolve(_ id: String, resourceType: String, aliasesFallBack: Bool) -> (any Control)? {
    let applicable = self.controls.filter { $0.resourceTypes.contains(resourceType) }
    if id.isEmpty { return applicable.first }
    if let exact = applicable.first(where: { $0.id == id }) { return exact }
    if id.hasPrefix("cis-3.0/") {
      let requirement = RequirementRef(framework: "cis-aws-3.0", requirement: String(id.dropFirst("cis-3.0/".count)))
      if let c = applicable.first(where: { $0.requirements.contains(requirement) }) { return c }
    }
    return aliasesFallBack && (self.info.aliases.contains(id) || id.hasPrefix("cis-3.0/")) ? applicable.first : nil
  }

  /// The plan for the first control that applies to `resource`.
  func plan(_ resource: InventoryResource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.plan(resource, control: self.control(for: "", resourceType: resource.type), config: config)
  }

  /// Validate: the resource must be of a type this handler fixes.
  func requireType(_ resource: InventoryResource) throws(ServiceError) {
    guard self.info.resourceTypes.contains(resource.type) else {
      throw .failedPrecondition("\(self.info.name) fixes \(self.info.resourceTypes.joined(separator: ", ")), not \(resource.type)")
    }
  }

  /// The control's verdict on `resource`'s document, and the document; refuses (FAILED_PRECONDITION)
  /// unless the control fails there: already compliant, not applicable, not evaluated.
  func failing(_ resource: InventoryResource, _ control: (any Control)?, _ config: HandlerConfig) throws(ServiceError)
    -> (control: any Control, document: JSONValue, parameters: Parameters, reason: String)
  {
    try self.requireType(resource)
    guard let control else { throw .failedPrecondition("\(self.info.name) has no control for \(resource.type) resources") }
    let document = resource.configuration
    let parameters = control.resolving(config.parameters(for: control.id))
    switch control.evaluate(document, parameters) {
    case .pass:
      throw .failedPrecondition("already compliant: \(control.id) passes on \(resource.type) \(resource.name)")
    case .notApplicable(let why):
      throw .failedPrecondition("\(control.id) does not apply to \(resource.type) \(resource.name): \(why)")
    case .notEvaluated(let why):
      throw .failedPrecondition("\(control.id) cannot be evaluated on \(resource.type) \(resource.name): \(why)")
    case .fail(_, let reason):
      return (control, document, parameters, reason)
    }
  }

  /// The plan of a handler whose fix is exactly its control's remedy.
  func controlPlan(
    _ resource: InventoryResource, _ control: (any Control)?, _ config: HandlerConfig, describe: (InventoryResource) -> String
  ) throws(ServiceError) -> HandlerPlan {
    let failing = try self.failing(resource, control, config)
    guard let operations = failing.control.remedy(failing.document, failing.parameters), !operations.isEmpty else {
      throw .failedPrecondition("\(failing.control.id) on \(resource.name) is fixed by hand: \(failing.control.remediation)")
    }
    return HandlerPlan(
      operations: operations, description: "\(describe(resource)) (\(failing.control.id): \(failing.reason))", risk: self.info.risk)
  }
}

/// Every handler, in one place.
enum HandlerCatalogue {
  static let all: [any RemediationHandler] = [
    BlockPublicAdminPorts(), S3BucketPublicAccessBlock(), S3AccountPublicAccessBlock(), S3DefaultEncryption(), IMDSv2Enforcement(),
    IAMAccessKeyRotation(), GuardDutyEnablement(), RDSBackupEnablement(), RDSPublicAccessDisable(), RDSDeletionProtection(),
    CloudTrailLogFileValidation(), KMSKeyRotation(), EBSDefaultEncryption(), ManualGuidance(), RevertToBaseline(),
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
