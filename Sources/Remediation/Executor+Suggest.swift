import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import SwiftProtobuf

/// Suggesting: a finding matched to its handler, planned on inventory's record, routed by policy.
extension Executor {
  func suggest(_ request: Fixpoint_V1_SuggestActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.findingID, field: "finding_id", prefix: "fnd")
    guard let finding = try await self.store.read({ db in try FindingRecord.fetchOne(db, key: request.findingID) }) else {
      throw ServiceError.notFound(kind: "finding", id: request.findingID)
    }
    guard finding.status == Fixpoint_V1_Finding.Status.open.rawValue else {
      throw ServiceError.failedPrecondition("finding \(finding.id) is not open")
    }
    let handler: any RemediationHandler
    if !request.handler.isEmpty {
      guard let forced = HandlerCatalogue.byName[request.handler] else {
        throw ServiceError.invalidArgument(field: "handler", reason: "unknown handler; see ListHandlers")
      }
      handler = forced
    } else {
      guard let matched = HandlerCatalogue.matching(controlID: finding.control_id, findingType: finding.finding_type, resourceType: finding.resource_type) else {
        throw ServiceError.failedPrecondition("no handler fixes \(finding.control_id.isEmpty ? finding.finding_type : finding.control_id)")
      }
      handler = matched
    }
    guard finding.resource_id.hasPrefix("res_") else {
      throw ServiceError.failedPrecondition("finding \(finding.id) names no inventory resource (resource_id); sync the provider first")
    }
    let openKey = "\(finding.resource_id)|\(finding.control_id.isEmpty ? finding.finding_type : finding.control_id)"
    if let existing = try await self.store.read({ db in
      try Data.fetchOne(db, sql: "SELECT message FROM action WHERE open_key = ?", arguments: [openKey])
    }) {
      return try Fixpoint_V1_Action(serializedBytes: existing)  // one open action per (resource, control)
    }
    let resource = try await self.callInventory("read the resource") {
      try await self.inventory.getResource(.with { $0.resourceID = finding.resource_id })
    }
    let plan: HandlerPlan
    if let revert = handler as? RevertToBaseline {
      let baseline = try await self.callInventory("read the baseline") {
        try await self.inventory.getBaseline(.with { $0.resourceID = resource.id })
      }
      plan = try revert.plan(resource, baseline: try JSONValue(baseline.configuration), baselineID: baseline.id)
    } else {
      let control = handler.control(for: finding.control_id, resourceType: resource.type)
      plan = try handler.plan(resource, control: control, config: self.handlerConfig)
    }
    let changeSet = Fixpoint_V1_ChangeSet.with {
      $0.resource = .with { r in
        r.resourceID = resource.id
        r.externalID = resource.externalID
        r.type = resource.type
        r.providerID = resource.providerID
        r.region = resource.region
      }
      $0.operations = plan.operations
    }
    var diffs: [Fixpoint_V1_PathDiff] = []
    if !plan.operations.isEmpty {
      diffs = try await self.callInventory("plan the change") {
        // Planned on inventory's record (what the finding was raised on): no cloud call per
        // suggestion. Execution plans again on a fresh read before it writes anything.
        try await self.inventory.applyChange(.with { $0.changeSet = changeSet; $0.dryRun = true; $0.fromRecord = true }).diffs
      }
    }
    let approval = self.needsApproval(
      handler: handler.info, resource: resource, severity: Fixpoint_V1_Severity(rawValue: finding.severity) ?? .medium)
    var action = Fixpoint_V1_Action.with {
      $0.id = RandomID.make(prefix: "act")
      $0.findingID = finding.id
      $0.handler = handler.info.name
      $0.state = .suggested
      $0.description_p = plan.description
      $0.resource = changeSet.resource
      $0.currentConfiguration = resource.configuration
      $0.changeSet = changeSet
      $0.plannedDiff = diffs
      $0.risk = plan.risk
      $0.tier = handler.info.tier
      $0.reversible = handler.info.reversible
      $0.requiresApproval = approval.required
      $0.requested = .with { s in s.subject = actor.subject; s.role = actor.role.rawValue; s.time = .init(date: Date()) }
      $0.guidance = plan.guidance
    }
    let actions = self.actions
    return try await RequestLog.once(self.store, method: "SuggestAction", request: request, requestID: request.requestID) { [action] db in
      var action = action
      if let existing = try Data.fetchOne(db, sql: "SELECT message FROM action WHERE open_key = ?", arguments: [openKey]) {
        return try Fixpoint_V1_Action(serializedBytes: existing)
      }
      try ActionStore.save(action, openKey: openKey, in: db, insert: true)
      try actions.record(action, from: "none", actor: actor, comment: plan.description, reason: "", in: db)
      if approval.required {
        try actions.transition(&action, to: .pendingApproval, actor: Self.system, comment: approval.why, in: db)
      } else {
        try actions.transition(&action, to: .approved, actor: Self.system, comment: "approved by policy: \(approval.why)", in: db)
      }
      return action
    }
  }

  /// Whether an action needs a person's approval, and why.
  func needsApproval(handler: HandlerInfo, resource: Fixpoint_V1_Resource, severity: Fixpoint_V1_Severity) -> (required: Bool, why: String) {
    let policy = self.policy
    if handler.tier == .t3ChangeWindow { return (true, "tier 3 always needs an approval") }
    if resource.tags["auto_remediate"]?.lowercased() == "false" { return (true, "the resource is tagged auto_remediate=false") }
    switch policy.handlerOverrides[handler.name] {
    case .always: return (true, "the policy requires approval for \(handler.name)")
    case .never: return (false, "the policy lets \(handler.name) run without approval")
    default: break
    }
    if resource.tags["env"]?.lowercased() == "prod" { return (true, "the resource is tagged env=prod") }
    if policy.minAutoSeverity != .unspecified && severity.rawValue < policy.minAutoSeverity.rawValue {
      return (true, "findings below \(policy.minAutoSeverity) need an approval")
    }
    if policy.requireApproval { return (true, "the policy requires approval") }
    return (false, "\(handler.tier == .t1AutoSafe ? "tier 1" : "tier 2") and approval not required")
  }
}
