import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation
import GRDB
import GRPCCore
import Logging

/// Suggesting: a finding matched to its handler, planned on inventory's record, routed by policy.
extension Executor {
  /// Plans an action for an open finding, with `handlerName`'s handler or (when empty) the one
  /// that matches it; the finding's open action when it has one.
  func suggest(findingID: String, handler handlerName: String = "", by actor: Principal, once: Once = .always) async throws -> Action {
    try Validate.id(findingID, field: "finding_id", prefix: "fnd")
    guard let finding = try await self.store.read({ db in try FindingRecord.fetchOne(db, key: findingID) }) else {
      throw ServiceError.notFound(kind: "finding", id: findingID)
    }
    guard finding.isOpen else {
      throw ServiceError.failedPrecondition("finding \(finding.id) is not open")
    }
    let handler: any RemediationHandler
    if !handlerName.isEmpty {
      guard let forced = HandlerCatalogue.byName[handlerName] else {
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
    if let existing = try await self.store.read({ db in try ActionStore.open(openKey, in: db) }) {
      return existing  // one open action per (resource, control)
    }
    let resource = try await self.inventory.resource(finding.resource_id)
    let plan: HandlerPlan
    if let revert = handler as? RevertToBaseline {
      let baseline = try await self.inventory.baseline(of: resource.id)
      plan = try revert.plan(resource, baseline: baseline.document, baselineID: baseline.id)
    } else {
      let control = handler.control(for: finding.control_id, resourceType: resource.type)
      plan = try handler.plan(resource, control: control, config: self.handlerConfig)
    }
    let changeSet = ChangeSet(resource: resource.ref, operations: plan.operations)
    // Planned on inventory's record (what the finding was raised on): no cloud call per
    // suggestion. Execution plans again on a fresh read before it writes anything.
    let diffs = plan.operations.isEmpty ? [] : try await self.inventory.plan(changeSet, fromRecord: true)
    let approval = self.needsApproval(
      handler: handler.info, resource: resource, severity: finding.severityLevel)
    let action = Action(
      id: RandomID.make(prefix: "act"), findingID: finding.id, handler: handler.info.name, state: .suggested, description: plan.description,
      resource: changeSet.resource, changeSet: changeSet, plannedDiff: diffs, risk: plan.risk, tier: handler.info.tier,
      reversible: handler.info.reversible, requiresApproval: approval.required, requested: ActorStamp(actor), guidance: plan.guidance)
    let configuration = resource.configuration
    let actions = self.actions
    return try await once.run(self.store) { [action] db in
      var action = action
      if let existing = try ActionStore.open(openKey, in: db) { return existing }
      try ActionStore.insert(action, openKey: openKey, configuration: configuration, in: db)
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
  func needsApproval(handler: HandlerInfo, resource: InventoryResource, severity: Severity) -> (required: Bool, why: String) {
    let policy = self.policy
    if handler.tier == .changeWindow { return (true, "tier 3 always needs an approval") }
    if resource.tags["auto_remediate"]?.lowercased() == "false" { return (true, "the resource is tagged auto_remediate=false") }
    switch policy.handlerOverrides[handler.name] {
    case .always: return (true, "the policy requires approval for \(handler.name)")
    case .never: return (false, "the policy lets \(handler.name) run without approval")
    default: break
    }
    if resource.tags["env"]?.lowercased() == "prod" { return (true, "the resource is tagged env=prod") }
    if let minimum = policy.minAutoSeverity, severity < minimum {
      return (true, "findings below \(minimum) need an approval")
    }
    if policy.requireApproval { return (true, "the policy requires approval") }
    return (false, "\(handler.tier == .autoSafe ? "tier 1" : "tier 2") and approval not required")
  }
}
