import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import SwiftProtobuf

// The one place the dispatcher's types (Domain.swift) meet the protocol's messages, both
// directions: the RPCs' requests and answers, the events, inventory's RPCs and the stored rows
// (an action is stored as its `Action` message, the protocol's versioned encoding).

extension Tier {
  init(_ wire: Fixpoint_V1_Tier) { self = Tier(rawValue: wire.rawValue) ?? .changeWindow }
  var proto: Fixpoint_V1_Tier { Fixpoint_V1_Tier(rawValue: self.rawValue) ?? .t3ChangeWindow }
}

extension ActionState {
  /// nil for UNSPECIFIED or a code this version does not know.
  init?(_ wire: Fixpoint_V1_ActionState) { self.init(rawValue: wire.rawValue) }
  var proto: Fixpoint_V1_ActionState { Fixpoint_V1_ActionState(rawValue: self.rawValue) ?? .unspecified }
}

extension ResourceRef {
  init(_ wire: Fixpoint_V1_ResourceRef) {
    self.init(resourceID: wire.resourceID, externalID: wire.externalID, type: wire.type, providerID: wire.providerID, region: wire.region)
  }
  var proto: Fixpoint_V1_ResourceRef {
    Fixpoint_V1_ResourceRef(resourceID: self.resourceID, externalID: self.externalID, type: self.type, providerID: self.providerID, region: self.region)
  }
}

extension InventoryResource {
  init(_ wire: Fixpoint_V1_Resource) {
    self.init(
      id: wire.id, externalID: wire.externalID, type: wire.type, providerID: wire.providerID, region: wire.region, name: wire.name,
      tags: wire.tags, configuration: (try? JSONValue(wire.configuration)) ?? [:])
  }
}

extension PathOperation {
  init(_ wire: Fixpoint_V1_PathOperation) throws {
    self.init(try DocumentPath(wire.path), try JSONValue(wire.value))
  }
  var proto: Fixpoint_V1_PathOperation { .with { $0.path = self.path.description; $0.value = self.value.protoValue } }
}

extension ChangeSet {
  init(_ wire: Fixpoint_V1_ChangeSet) throws {
    self.init(resource: ResourceRef(wire.resource), operations: try wire.operations.map(PathOperation.init))
  }
  var proto: Fixpoint_V1_ChangeSet { .with { $0.resource = self.resource.proto; $0.operations = self.operations.map(\.proto) } }
}

extension PathDiff {
  /// A diff as inventory said it; a value that is not JSON (a Value with no kind) reads as null, as
  /// the audit trail shows it, rather than making the action unreadable.
  init(_ wire: Fixpoint_V1_PathDiff) {
    func value(_ v: Google_Protobuf_Value) -> JSONValue { (try? JSONValue(v)) ?? .null }
    self.init(
      path: wire.path, before: wire.hasBefore ? value(wire.before) : nil, after: wire.hasAfter ? value(wire.after) : nil, unchanged: wire.unchanged)
  }
  var proto: Fixpoint_V1_PathDiff {
    .with {
      $0.path = self.path
      if let before = self.before { $0.before = before.protoValue }
      if let after = self.after { $0.after = after.protoValue }
      $0.unchanged = self.unchanged
    }
  }
}

extension ActorStamp {
  init(_ wire: Fixpoint_V1_ActorStamp) { self.init(subject: wire.subject, role: wire.role, time: wire.time.date) }
  init(_ principal: Principal, at time: Date = Date()) { self.init(subject: principal.subject, role: principal.role.rawValue, time: time) }
  var proto: Fixpoint_V1_ActorStamp { .with { $0.subject = self.subject; $0.role = self.role; $0.time = .init(date: self.time) } }
}

extension Action {
  /// From the stored or answered message (without its `current_configuration`, which is kept apart).
  init(_ wire: Fixpoint_V1_Action) throws {
    guard let state = ActionState(wire.state) else {
      throw ServiceError.failedPrecondition("action \(wire.id) is in a state this version does not know (\(wire.state.rawValue))")
    }
    self.init(
      id: wire.id, findingID: wire.findingID, handler: wire.handler, state: state, description: wire.description_p,
      resource: ResourceRef(wire.resource), changeSet: try ChangeSet(wire.changeSet), plannedDiff: wire.plannedDiff.map(PathDiff.init),
      risk: Severity(wire.risk) ?? .medium, tier: Tier(wire.tier), reversible: wire.reversible, requiresApproval: wire.requiresApproval,
      snapshotID: wire.snapshotID, requested: ActorStamp(wire.requested), approved: wire.hasApproved ? ActorStamp(wire.approved) : nil,
      approvalExpiresAt: wire.hasApprovalExpiresAt ? wire.approvalExpiresAt.date : nil,
      completedAt: wire.hasCompletedAt ? wire.completedAt.date : nil,
      rollbackDeadline: wire.hasRollbackDeadline ? wire.rollbackDeadline.date : nil, failureReason: wire.failureReason,
      guidance: wire.guidance, attempt: Int(wire.attempt))
  }

  init(serializedBytes data: Data) throws { try self.init(Fixpoint_V1_Action(serializedBytes: data)) }

  /// The message, without `current_configuration` (`ActionStore.answered` adds it).
  var proto: Fixpoint_V1_Action {
    .with {
      $0.id = self.id
      $0.findingID = self.findingID
      $0.handler = self.handler
      $0.state = self.state.proto
      $0.description_p = self.description
      $0.resource = self.resource.proto
      $0.changeSet = self.changeSet.proto
      $0.plannedDiff = self.plannedDiff.map(\.proto)
      $0.risk = self.risk.proto
      $0.tier = self.tier.proto
      $0.reversible = self.reversible
      $0.requiresApproval = self.requiresApproval
      $0.snapshotID = self.snapshotID
      $0.requested = self.requested.proto
      if let approved = self.approved { $0.approved = approved.proto }
      if let at = self.approvalExpiresAt { $0.approvalExpiresAt = .init(date: at) }
      if let at = self.completedAt { $0.completedAt = .init(date: at) }
      if let at = self.rollbackDeadline { $0.rollbackDeadline = .init(date: at) }
      $0.failureReason = self.failureReason
      $0.guidance = self.guidance
      $0.attempt = Int32(self.attempt)
    }
  }

  func serializedData() throws -> Data { try self.proto.serializedData() }

  /// The `remediation.<state>` event of its move from `from` to its state.
  func event(from: String, actor: Principal, comment: String, reason: String, outbox: Outbox) -> Fixpoint_V1_Event {
    outbox.makeEvent(type: "remediation.\(self.state)", subject: self.id, severity: self.risk.proto) { e in
      e.remediation = .with {
        $0.actionID = self.id
        $0.fromState = from
        $0.toState = self.state.description
        $0.handler = self.handler
        $0.resource = self.resource.proto
        $0.actor = actor.subject
        $0.comment = comment
        $0.reason = reason
      }
    }
  }
}

extension NotRun {
  var proto: Fixpoint_V1_NotRun {
    .with {
      $0.actionID = self.actionID
      $0.cause =
        switch self.cause {
        case .notApproved: .notApproved
        case .approvalExpired: .approvalExpired
        case .noChangeWindow: .noChangeWindow
        case .windowClosed: .windowClosed
        case .blastRadius: .blastRadius
        case .inProgress: .inProgress
        case .inventoryUnavailable: .inventoryUnavailable
        case .internalError: .internalError
        case .guidanceOnly: .guidanceOnly
        }
      $0.reason = self.reason
      if let opens = self.nextWindowOpensAt { $0.nextWindowOpensAt = .init(date: opens) }
    }
  }
}

extension HandlerInfo {
  var proto: Fixpoint_V1_Handler {
    .with {
      $0.name = self.name
      $0.description_p = self.description
      $0.controlIds = self.controlIDs
      $0.findingTypes = self.findingTypes
      $0.tier = self.tier.proto
      $0.risk = self.risk.proto
      $0.permissions = self.permissions
      $0.reversible = self.reversible
      $0.resourceTypes = self.resourceTypes
    }
  }
}

/// How a change to an action is made at most once per client request id: the RPC edge names the
/// request (its method, id and message, whose fingerprint a repeat must match) and the answer is
/// kept as the message it was; the dispatcher's own calls carry no request id.
struct Once: Sendable {
  let run: @Sendable (Store, @escaping @Sendable (Database) throws -> Action) async throws -> Action

  /// No request id: just the transaction.
  static let always = Once { store, body in try await store.write(body) }

  /// Once per `requestID` of `method` (none when it is empty).
  static func request(_ method: String, _ request: some SwiftProtobuf.Message & Sendable, requestID: String) -> Once {
    Once { store, body in
      try Action(try await RequestLog.once(store, method: method, request: request, requestID: requestID) { db in try body(db).proto })
    }
  }
}

extension FindingStore {
  /// A submitted or raised finding, checked field by field (INVALID_ARGUMENT names the first bad
  /// one), as the record it becomes.
  static func validated(_ f: Fixpoint_V1_Finding) throws -> FindingRecord {
    guard !f.controlID.isEmpty || !f.findingType.isEmpty else {
      throw ServiceError.invalidArgument(field: "finding.control_id", reason: "a control id or a finding type is required")
    }
    try Validate.text(f.controlID, field: "finding.control_id", max: 64, required: false)
    try Validate.text(f.findingType, field: "finding.finding_type", max: 256, required: false)
    try Validate.text(f.source, field: "finding.source", max: 64, required: false)
    try Validate.text(f.title, field: "finding.title", max: 512, required: false)
    try Validate.text(f.description_p, field: "finding.description", max: 10_000, required: false)
    try Validate.text(f.sourceRef, field: "finding.source_ref", max: 512, required: false)
    let r = f.resource
    guard !r.resourceID.isEmpty || !r.externalID.isEmpty else {
      throw ServiceError.invalidArgument(field: "finding.resource", reason: "a resource_id or an external_id is required")
    }
    try Validate.text(r.resourceID, field: "finding.resource.resource_id", max: 256, required: false)
    try Validate.text(r.externalID, field: "finding.resource.external_id", max: 2048, required: false)
    if !r.externalID.isEmpty && r.externalID.hasPrefix("arn:") && r.externalID.split(separator: ":", omittingEmptySubsequences: false).count < 6 {
      throw ServiceError.invalidArgument(field: "finding.resource.external_id", reason: "malformed ARN")
    }
    try Validate.text(r.type, field: "finding.resource.type", max: 64, required: false)
    try Validate.text(r.region, field: "finding.resource.region", max: 64, required: false)
    guard (0...5).contains(f.severity.rawValue) else {
      throw ServiceError.invalidArgument(field: "finding.severity", reason: "unknown severity")
    }
    let resourceKey = r.resourceID.isEmpty ? r.externalID : r.resourceID
    return FindingRecord(
      id: RandomID.make(prefix: "fnd"), source: f.source.isEmpty ? "manual" : f.source, control_id: f.controlID,
      finding_type: f.findingType, resource_id: r.resourceID, external_id: r.externalID, resource_type: r.type,
      provider_id: r.providerID, region: r.region, severity: f.severity == .unspecified ? 3 : f.severity.rawValue,
      title: f.title, description: f.description_p, status: Fixpoint_V1_Finding.Status.open.rawValue,
      created_at: Date().timeIntervalSince1970, source_ref: f.sourceRef,
      open_key: "\(resourceKey)|\(f.controlID.isEmpty ? f.findingType : f.controlID)", planning: "")
  }
}

extension FindingRecord {
  var resourceRef: Fixpoint_V1_ResourceRef {
    .init(resourceID: self.resource_id, externalID: self.external_id, type: self.resource_type, providerID: self.provider_id, region: self.region)
  }

  /// The wire form.
  var proto: Fixpoint_V1_Finding {
    .with {
      $0.id = self.id
      $0.source = self.source
      $0.controlID = self.control_id
      $0.findingType = self.finding_type
      $0.resource = self.resourceRef
      $0.severity = Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified
      $0.title = self.title
      $0.description_p = self.description
      $0.status = Fixpoint_V1_Finding.Status(rawValue: self.status) ?? .unspecified
      $0.createdAt = .init(date: Date(timeIntervalSince1970: self.created_at))
      $0.sourceRef = self.source_ref
      $0.planning = self.planning ?? ""
    }
  }

  /// Its severity as stored (the protocol's codes); one that gave none ranks lowest.
  var severityLevel: Severity {
    Severity(Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified) ?? .informational
  }

  var isOpen: Bool { self.status == Fixpoint_V1_Finding.Status.open.rawValue }
}

extension PolicyDefaults {
  var proto: Fixpoint_V1_Policy {
    .with {
      $0.requireApproval = self.requireApproval
      $0.rollbackWindowSeconds = Int64(self.rollbackWindowSeconds)
      $0.approvalTtlSeconds = Int64(self.approvalTTLSeconds)
      $0.blastRadiusMaxCount = Int32(self.blastRadiusMaxCount)
      $0.blastRadiusMaxShare = self.blastRadiusMaxShare
      $0.autoRollbackOnFailedVerification = self.autoRollbackOnFailedVerification
      $0.changeWindows = self.changeWindows.map { w in
        .with { $0.cron = w.cronText; $0.durationSeconds = Int64(w.duration); $0.timeZone = w.timeZoneName }
      }
      $0.handlerOverrides = self.handlerOverrides.mapValues { $0 == .always ? .always : .never }
      $0.minAutoSeverity = self.minAutoSeverity?.proto ?? .unspecified
      if let updated = self.updated { $0.updated = updated.proto }
    }
  }

  /// As the `policy` row stores it (the message), and as the audit entry shows it (its JSON).
  func storedForm() throws -> (Data, String) {
    let message = self.proto
    return (try message.serializedData(), (try? message.jsonString()) ?? "")
  }

  /// This policy with a stored one (the `policy` row) on top.
  func applyingStored(_ data: Data) throws -> PolicyDefaults {
    let stored = try Fixpoint_V1_Policy(serializedBytes: data)
    var policy = try self.applying(stored, mask: [], handlers: Set(HandlerCatalogue.byName.keys))
    policy.updated = stored.hasUpdated ? ActorStamp(stored.updated) : nil
    return policy
  }

  /// Applies the fields of `p` named in `mask` (all when empty), validating each; nothing changes
  /// when any is invalid.
  func applying(_ p: Fixpoint_V1_Policy, mask: [String], handlers: Set<String>) throws(ServiceError) -> PolicyDefaults {
    var next = self
    let names = mask.isEmpty ? Self.fields : mask
    for (i, name) in names.enumerated() {
      switch name {
      case "require_approval": next.requireApproval = p.requireApproval
      case "handler_overrides":
        for (handler, override) in p.handlerOverrides {
          guard handlers.contains(handler) else { throw .invalidArgument(field: "policy.handler_overrides[\(handler)]", reason: "unknown handler") }
          guard override != .unspecified else { throw .invalidArgument(field: "policy.handler_overrides[\(handler)]", reason: "say DEFAULT, ALWAYS or NEVER") }
        }
        next.handlerOverrides = p.handlerOverrides.compactMapValues { o -> ApprovalOverride? in
          switch o {
          case .always: .always
          case .never: .never
          default: nil
          }
        }
      case "change_windows":
        next.changeWindows = try p.changeWindows.enumerated().map { j, w throws(ServiceError) in
          do { return try ChangeWindow(cron: w.cron, durationSeconds: w.durationSeconds, timeZone: w.timeZone) } catch { throw .invalidArgument(field: "policy.change_windows[\(j)]", reason: "\(error)") }
        }
      case "approval_ttl_seconds":
        guard (60...(30 * 86_400)).contains(p.approvalTtlSeconds) else {
          throw .invalidArgument(field: "policy.approval_ttl_seconds", reason: "must be between 60 and 2592000")
        }
        next.approvalTTLSeconds = Int(p.approvalTtlSeconds)
      case "rollback_window_seconds":
        guard (0...172_800).contains(p.rollbackWindowSeconds) else {
          throw .invalidArgument(field: "policy.rollback_window_seconds", reason: "must be between 0 and 172800 (48 h)")
        }
        next.rollbackWindowSeconds = Int(p.rollbackWindowSeconds)
      case "min_auto_severity":
        guard (0...5).contains(p.minAutoSeverity.rawValue) else { throw .invalidArgument(field: "policy.min_auto_severity", reason: "unknown severity") }
        next.minAutoSeverity = Severity(p.minAutoSeverity)
      case "blast_radius_max_count":
        guard p.blastRadiusMaxCount >= 0 else { throw .invalidArgument(field: "policy.blast_radius_max_count", reason: "must not be negative") }
        next.blastRadiusMaxCount = Int(p.blastRadiusMaxCount)
      case "blast_radius_max_share":
        guard (0...1).contains(p.blastRadiusMaxShare) else {
          throw .invalidArgument(field: "policy.blast_radius_max_share", reason: "must be between 0 and 1 (0: no limit)")
        }
        next.blastRadiusMaxShare = p.blastRadiusMaxShare
      case "auto_rollback_on_failed_verification": next.autoRollbackOnFailedVerification = p.autoRollbackOnFailedVerification
      default:
        throw .invalidArgument(field: "update_mask[\(i)]", reason: "'\(name)' is not a policy field (\(Self.fields.joined(separator: ", ")))")
      }
    }
    return next
  }
}

extension AuditChain {
  /// An entry as GetAuditTrail answers it, from its row.
  static func proto(_ row: Row) -> Fixpoint_V1_AuditEntry {
    .with { e in
      e.sequence = row["sequence"]
      e.actionID = row["action_id"]
      e.fromState = row["from_state"]
      e.toState = row["to_state"]
      e.actor = .with {
        $0.subject = row["actor"]
        $0.role = row["role"]
        $0.time = .init(date: Date(timeIntervalSince1970: row["at"]))
      }
      e.comment = row["comment"]
      if let details = try? Google_Protobuf_Struct(jsonString: row["details"]) { e.details = details }
      e.hash = row["hash"]
      e.previousHash = row["previous_hash"]
    }
  }
}

extension AuditChain.Check {
  var proto: Fixpoint_V1_VerifyAuditChainResponse {
    .with {
      $0.valid = self.valid
      $0.entriesChecked = self.entriesChecked
      $0.brokenAtSequence = self.brokenAtSequence
      $0.problem = self.problem
    }
  }
}

extension RemediationMetrics {
  var proto: Fixpoint_V1_RemediationMetrics {
    .with {
      $0.meanTimeToRemediateSeconds = self.meanTimeToRemediateSeconds
      $0.successRate = self.successRate
      $0.rollbackRate = self.rollbackRate
      $0.recurrenceByControl = self.recurrenceByControl
      $0.actionsByState = self.actionsByState
    }
  }
}

extension ActionStore {
  /// Each action's `current_configuration` (the resource document it was suggested on) is kept in
  /// its own column, not in the message: only GetAction and ListActions show it, and decoding it
  /// with every load (each state change, each batch selection) was the dispatcher's largest single
  /// cost in bench-loop at N = 1,000 (12 % of its CPU).
  static let configurationMigration = Store.Migration("dispatcher.6-action-configuration") { db in
    try db.execute(sql: "ALTER TABLE action ADD COLUMN configuration BLOB")
    for row in try Row.fetchAll(db, sql: "SELECT id, message FROM action") {
      var action = try Fixpoint_V1_Action(serializedBytes: row["message"] as Data)
      guard action.hasCurrentConfiguration else { continue }
      let configuration = try action.currentConfiguration.serializedData()
      action.clearCurrentConfiguration()
      try db.execute(
        sql: "UPDATE action SET message = ?, configuration = ? WHERE id = ?", arguments: [try action.serializedData(), configuration, row["id"] as String])
    }
  }
}
