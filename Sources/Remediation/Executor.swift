import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle
import SwiftProtobuf

/// Per-tier execution limits.
struct TierLimits: Sendable {
  var concurrency: [Fixpoint_V1_Tier: Int] = [.t1AutoSafe: 10, .t2Verify: 5, .t3ChangeWindow: 2]
  var timeout: [Fixpoint_V1_Tier: Duration] = [.t1AutoSafe: .seconds(30), .t2Verify: .seconds(120), .t3ChangeWindow: .seconds(600)]
}

/// Suggests, approves, executes and rolls back actions. Every cloud read and write goes through
/// inventory (snapshot → apply → verify → restore); the dispatcher holds no credentials. Every
/// inventory call that changes something carries a request id derived from the action, so a
/// retry or a resumed execution after a crash is never applied twice.
final class Executor: Sendable {
  let actions: ActionStore
  let findings: FindingStore
  let book: PolicyBook
  var policy: PolicyDefaults { self.book.current }
  let handlerConfig: HandlerConfig
  let limits: TierLimits
  let inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>
  /// Inventory's health, on the same connection: asked once per execution batch.
  let inventoryHealth: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>
  let logger: Logger
  /// When this process's executor was made: actions left executing before it are recovery's.
  let startedAt = Date().timeIntervalSince1970
  static let system = Principal(subject: "fixpoint-dispatcher", role: .service)

  init(
    actions: ActionStore, findings: FindingStore, book: PolicyBook, handlerConfig: HandlerConfig, limits: TierLimits,
    inventory: GRPCClient<HTTP2ClientTransport.Posix>, logger: Logger
  ) {
    self.actions = actions
    self.findings = findings
    self.book = book
    self.handlerConfig = handlerConfig
    self.limits = limits
    self.inventory = Fixpoint_V1_InventoryService.Client(wrapping: inventory)
    self.inventoryHealth = Grpc_Health_V1_Health.Client(wrapping: inventory)
    self.logger = logger
  }

  var store: Store { self.actions.store }

  /// Runs an inventory call, turning its failure into this service's words.
  func callInventory<R>(_ what: String, _ body: () async throws -> R) async throws -> R {
    do {
      return try await body()
    } catch let error as RPCError {
      switch error.code {
      case .invalidArgument, .notFound, .failedPrecondition: throw ServiceError.failedPrecondition("inventory refused \(what): \(error.message)")
      case .unavailable, .deadlineExceeded, .cancelled, .aborted: throw InventoryUnavailable(what: what, code: error.code, message: error.message)
      default: throw ServiceError.failedPrecondition("inventory could not \(what) (\(error.code)): \(error.message)")
      }
    }
  }

  /// Inventory could not be reached or did not answer in time: the call may not have happened,
  /// or its answer was lost. Not the action's fault: an execution pauses and resumes (inventory
  /// keeps the answer to each change request id, so nothing is applied twice); an RPC answers
  /// UNAVAILABLE, which a caller may retry.
  struct InventoryUnavailable: Error, RPCErrorConvertible, CustomStringConvertible {
    let what: String
    let code: RPCError.Code
    let message: String
    var description: String { "inventory could not \(self.what) (\(self.code)): \(self.message)" }
    var rpcErrorCode: RPCError.Code { .unavailable }
    var rpcErrorMessage: String { self.description }
  }

  // MARK: - Suggest

  func suggest(_ request: Fixpoint_V1_SuggestActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.findingID, field: "finding_id", prefix: "fnd")
    guard let finding = try await self.store.pool.read({ db in try FindingRecord.fetchOne(db, key: request.findingID) }) else {
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
    if let existing = try await self.store.pool.read({ db in
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

  // MARK: - Approve, reject

  func approve(_ request: Fixpoint_V1_ApproveActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.actionID, field: "action_id", prefix: "act")
    try Validate.text(request.comment, field: "comment", max: 2000, required: false)
    let ttl = TimeInterval(self.policy.approvalTTLSeconds)
    let actions = self.actions
    return try await RequestLog.once(self.store, method: "ApproveAction", request: request, requestID: request.requestID) { db in
      var action = try ActionStore.load(request.actionID, in: db)
      guard action.requested.subject != actor.subject else {
        throw ServiceError.permissionDenied("\(actor.subject) requested this action and cannot also approve it")
      }
      try actions.transition(&action, to: .approved, actor: actor, comment: request.comment, in: db) { a in
        a.approved = .with { s in s.subject = actor.subject; s.role = actor.role.rawValue; s.time = .init(date: Date()) }
        a.approvalExpiresAt = .init(date: Date().addingTimeInterval(ttl))
      }
      return action
    }
  }

  func reject(_ request: Fixpoint_V1_RejectActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.actionID, field: "action_id", prefix: "act")
    try Validate.text(request.comment, field: "comment", max: 2000)
    let actions = self.actions
    return try await RequestLog.once(self.store, method: "RejectAction", request: request, requestID: request.requestID) { db in
      var action = try ActionStore.load(request.actionID, in: db)
      guard action.requested.subject != actor.subject else {
        throw ServiceError.permissionDenied("\(actor.subject) requested this action and cannot also decide on it")
      }
      try actions.transition(&action, to: .rejected, actor: actor, comment: request.comment, in: db)
      return action
    }
  }

  // MARK: - Execute

  /// What an ExecuteAction call did: the actions that ran, as they ended, and every other action
  /// it was asked about with the reason it did not run.
  struct Execution: Sendable {
    var ran: [Fixpoint_V1_Action] = []
    var notRun: [NotRun] = []
  }

  func execute(_ request: Fixpoint_V1_ExecuteActionRequest, by actor: Principal) async throws -> Execution {
    guard request.allApproved != !request.actionIds.isEmpty else {
      throw ServiceError.invalidArgument(field: "action_ids", reason: "give action ids, or all_approved, not both")
    }
    var ids = request.actionIds
    for (i, id) in ids.enumerated() { try Validate.id(id, field: "action_ids[\(i)]", prefix: "act") }
    if request.retryFailed {
      guard !request.allApproved, !request.dryRun else {
        throw ServiceError.invalidArgument(field: "retry_failed", reason: "name the failed actions in action_ids; not with all_approved or dry_run")
      }
      try await self.retry(ids, by: actor)
    }
    if request.allApproved {
      ids = try await self.store.pool.read { db in
        try String.fetchAll(db, sql: "SELECT id FROM action WHERE state = ? ORDER BY created_at", arguments: [Fixpoint_V1_ActionState.approved.rawValue])
      }
    }
    let selected = ids
    let loaded = try await self.store.pool.read { db in try selected.map { try ActionStore.load($0, in: db) } }
    if request.dryRun {
      var out: [Fixpoint_V1_Action] = []
      for var action in loaded {
        if !action.changeSet.operations.isEmpty {
          action.plannedDiff = try await self.callInventory("plan the change") {
            try await self.inventory.applyChange(.with { $0.changeSet = action.changeSet; $0.dryRun = true }).diffs
          }
        }
        out.append(action)
      }
      return Execution(ran: out)
    }
    var execution = Execution()
    var runnable: [Fixpoint_V1_Action] = []
    let now = Date()
    for action in loaded {
      if let refusal = self.refusal(of: action, at: now) { execution.notRun.append(refusal) } else { runnable.append(action) }
    }
    if !runnable.isEmpty, let unreachable = await self.inventoryUnreachable() {
      // Nothing is started against an inventory that is not there: each action stays approved.
      execution.notRun += runnable.map { a in .with { $0.actionID = a.id; $0.cause = .inventoryUnavailable; $0.reason = unreachable } }
      runnable = []
    }
    let (allowed, held) = try await self.blastRadius(runnable)
    execution.notRun += held
    let done = try await self.run(allowed.map(\.id), by: actor)
    execution.ran = done.ran
    execution.notRun += done.notRun
    for refusal in execution.notRun {
      self.logger.info("action not run", metadata: ["action": "\(refusal.actionID)", "cause": "\(refusal.cause)", "reason": "\(refusal.reason)"])
    }
    return execution
  }

  /// Puts each named failed action back for a new attempt, audited: approved, or pending
  /// approval when it needs a person's. Other states are left for the refusal to explain.
  func retry(_ ids: [String], by actor: Principal) async throws {
    let actions = self.actions
    try await self.store.pool.write { db in
      for id in ids {
        var action = try ActionStore.load(id, in: db)
        guard action.state == .failed else { continue }
        let attempt = max(action.attempt, 1) + 1
        let why = "retry by \(actor.subject): attempt \(attempt), after: \(action.failureReason.prefix(300))"
        try actions.transition(&action, to: action.requiresApproval ? .pendingApproval : .approved, actor: actor, comment: why, in: db) { a in
          a.attempt = attempt
          a.failureReason = ""
          a.snapshotID = ""
          a.clearApproved()
          a.clearApprovalExpiresAt()
        }
      }
    }
  }

  /// Executes the actions, each tier within its own concurrency and timeout, the tiers side by side.
  func run(_ ids: [String], by actor: Principal) async throws -> Execution {
    let byTier = Dictionary(grouping: try await self.store.pool.read { db in try ids.map { try ActionStore.load($0, in: db) } }, by: \.tier)
    let ended = await withTaskGroup(of: [Ended].self) { tiers in
      for (tier, group) in byTier {
        tiers.addTask { await self.run(group.map(\.id), limit: max(1, self.limits.concurrency[tier] ?? 1), timeout: self.limits.timeout[tier] ?? .seconds(60), by: actor) }
      }
      var all: [String: Ended] = [:]
      for await done in tiers { for end in done { all[end.id] = end } }
      return all
    }
    var execution = Execution()
    for id in ids {
      switch ended[id] {
      case .ran(let action): execution.ran.append(action)
      case .notRun(let refusal): execution.notRun.append(refusal)
      case nil: break
      }
    }
    let metrics = try await self.store.pool.read { db in try RemediationMetrics.compute(in: db) }
    RemediationMetrics.publish(metrics)
    return execution
  }

  /// How one action's execution ended for the caller.
  enum Ended: Sendable {
    case ran(Fixpoint_V1_Action)
    case notRun(NotRun)
    var id: String {
      switch self {
      case .ran(let a): a.id
      case .notRun(let n): n.actionID
      }
    }
  }

  /// Executes `ids`, at most `limit` at a time. An action whose outcome could not be recorded is
  /// answered as not run with the error (and logged); recovery finishes it at the next start.
  private func run(_ ids: [String], limit: Int, timeout: Duration, by actor: Principal) async -> [Ended] {
    await withTaskGroup(of: Ended.self) { tasks in
      var next = 0
      func launch() {
        guard next < ids.count else { return }
        let id = ids[next]
        next += 1
        tasks.addTask {
          do {
            return try await self.executeOne(id, by: actor, timeout: timeout)
          } catch {
            self.logger.error("recording an execution failed", metadata: ["action": "\(id)", "error": "\(error)"])
            return .notRun(.with {
              $0.actionID = id
              $0.cause = .internalError
              $0.reason = "the dispatcher could not record the outcome of action \(id): \(error)"
            })
          }
        }
      }
      for _ in 0..<limit { launch() }
      var done: [Ended] = []
      while let result = await tasks.next() {
        done.append(result)
        if case .notRun(let paused) = result, paused.cause == .inventoryUnavailable {
          // Inventory went away mid-batch: what has not started stays approved, untouched, rather
          // than each action waiting on a dead connection in turn.
          done += ids[next...].map { id in
            .notRun(.with { $0.actionID = id; $0.cause = .inventoryUnavailable; $0.reason = "not started: \(paused.reason)" })
          }
          next = ids.count
        }
        launch()
      }
      return done
    }
  }

  /// Nil when inventory serves, or why not. Waits up to `patience` for its connection, so a call
  /// made just after inventory came back (while the client is between reconnection attempts)
  /// runs instead of answering "unavailable".
  func inventoryUnreachable(patience: Duration = .seconds(10)) async -> String? {
    var options = CallOptions.defaults
    options.waitForReady = true
    options.timeout = patience
    do {
      let status = try await self.inventoryHealth.check(.init(), options: options).status
      return status == .serving ? nil : "inventory is not serving (\(status)); the action stays approved and runs on the next execute"
    } catch {
      return "inventory could not be reached within \(patience) (\(error)); the action stays approved and runs on the next execute"
    }
  }

  /// approved → executing → (snapshot, re-validate, apply, verify) → completed | failed. When
  /// inventory cannot be reached (unavailable, past its deadline) the action goes back to approved,
  /// audited, and the next execute completes it: inventory's answer to the action's change request
  /// id is kept, so a change that was applied before the outage is not applied twice.
  func executeOne(_ id: String, by actor: Principal, timeout: Duration) async throws -> Ended {
    let actions = self.actions
    let started = try await self.store.pool.write { db -> Fixpoint_V1_Action in
      var action = try ActionStore.load(id, in: db)
      if action.state == .approved { try actions.transition(&action, to: .executing, actor: actor, comment: "", in: db) }
      return action
    }
    guard started.state == .executing else {
      return .notRun(self.refusal(of: started, at: Date()) ?? .with { $0.actionID = id; $0.cause = .inProgress; $0.reason = "action \(id) is executing in another call" })
    }
    do {
      let outcome = try await Self.withTimeout(timeout) { try await self.perform(started) }
      return .ran(try await self.finish(id, actor: actor, outcome: outcome))
    } catch let error as InventoryUnavailable {
      return .notRun(try await self.pause(id, actor: actor, error: error))
    } catch {
      let reason = (error as? TimeoutError).map { "timed out after \($0.limit)" } ?? "\(error)"
      return .ran(try await self.fail(id, actor: actor, reason: reason))
    }
  }

  /// executing → approved: inventory could not be reached; the action runs on the next call.
  func pause(_ id: String, actor: Principal, error: InventoryUnavailable) async throws -> NotRun {
    let actions = self.actions
    let reason = "\(error); the action stays approved and runs on the next execute"
    try await self.store.pool.write { db in
      var action = try ActionStore.load(id, in: db)
      try actions.transition(&action, to: .approved, actor: actor, comment: "paused: inventory unreachable", reason: reason, in: db)
    }
    self.logger.warning("execution paused", metadata: ["action": "\(id)", "error": "\(error)"])
    return .with { $0.actionID = id; $0.cause = .inventoryUnavailable; $0.reason = reason }
  }

  enum Outcome { case changed(snapshotID: String, applied: [Fixpoint_V1_PathDiff], note: String), alreadyCompliant(snapshotID: String), guidanceOnly }

  /// The cloud part of an execution, one inventory call that is safe to repeat: inventory reads
  /// the fields fresh, stores the snapshot, re-validates (already compliant → nothing written),
  /// writes and reads back. A repeat after a crash reuses the snapshot and the first answer.
  func perform(_ action: Fixpoint_V1_Action) async throws -> Outcome {
    guard !action.changeSet.operations.isEmpty else { return .guidanceOnly }
    let reverts = HandlerCatalogue.byName[action.handler]?.info.revertsToBaseline == true
    let control = reverts ? nil : try await self.control(of: action)
    let applied = try await self.callInventory("apply the change") {
      try await self.inventory.applyChange(.with {
        $0.requestID = Self.changeRequestID(action)
        $0.changeSet = action.changeSet
        $0.snapshot = true
        if HandlerCatalogue.byName[action.handler]?.info.deliversNewAccessKey == true { $0.newAccessKeySink = self.handlerConfig.iamKeySink }
      })
    }
    // inventory re-read the fields after writing (or found them in place): when the control passes
    // on that read it is the verification; otherwise read again, bounded (eventual consistency).
    if let control {
      try await self.verify(action.changeSet, control: control, after: applied.hasAfter ? applied.after : nil)
    } else {
      try await self.verifyValues(action.changeSet, after: applied.hasAfter ? applied.after : nil)
    }
    if applied.diffs.isEmpty { return .alreadyCompliant(snapshotID: applied.snapshotID) }
    let note = applied.newAccessKeyID.isEmpty ? "" : "; new access key \(applied.newAccessKeyID) delivered to \(self.handlerConfig.iamKeySink)"
    return .changed(snapshotID: applied.snapshotID, applied: applied.diffs, note: note)
  }

  /// The request id of an action's change in inventory (and so of its snapshot): one per attempt.
  static func changeRequestID(_ action: Fixpoint_V1_Action) -> String {
    action.attempt <= 1 ? "\(action.id)-apply" : "\(action.id)-apply-\(action.attempt)"
  }

  /// The control an action fixes: the one its finding names, as its handler resolves it.
  func control(of action: Fixpoint_V1_Action) async throws -> any Control {
    guard let handler = HandlerCatalogue.byName[action.handler] else {
      throw ServiceError.failedPrecondition("action \(action.id) names the unknown handler \(action.handler)")
    }
    let finding = try await self.store.pool.read { db in try FindingRecord.fetchOne(db, key: action.findingID) }
    guard let control = handler.control(for: finding?.control_id ?? "", resourceType: action.resource.type) else {
      throw ServiceError.failedPrecondition("\(action.handler) knows no control for finding \(action.findingID) on \(action.resource.type)")
    }
    return control
  }

  /// Passes when `control` passes on a fresh read of the resource: first `after` (inventory's read
  /// right after the change), then new reads, a bounded number of times, for eventual
  /// consistency. Not "the values written are there": the control itself must pass.
  func verify(_ changeSet: Fixpoint_V1_ChangeSet, control: any Control, after: Google_Protobuf_Struct?) async throws {
    let parameters = self.handlerConfig.parameters(for: control.id)
    var document = after
    for attempt in 1...5 {
      if document == nil {
        document = try await self.callInventory("verify the change") {
          try await self.inventory.applyChange(.with { $0.changeSet = changeSet; $0.dryRun = true }).after
        }
      }
      let verdict = Self.verdict(of: control, on: document!, parameters: parameters)
      if verdict == .pass { return }
      if attempt == 5 { throw ServiceError.failedPrecondition("verification failed: \(control.id) does not pass after the change: \(verdict)") }
      document = nil
      try await Task.sleep(for: .milliseconds(200 * attempt))
    }
  }

  /// For a handler no control verifies (RevertToBaseline): each written field reads back as
  /// planned, on inventory's read after the change and then fresh reads, bounded.
  func verifyValues(_ changeSet: Fixpoint_V1_ChangeSet, after: Google_Protobuf_Struct?) async throws {
    var document = after
    for attempt in 1...5 {
      if document == nil {
        document = try await self.callInventory("verify the change") {
          try await self.inventory.applyChange(.with { $0.changeSet = changeSet; $0.dryRun = true }).after
        }
      }
      let differing = RevertToBaseline.verdict(changeSet, after: document!)
      if differing.isEmpty { return }
      if attempt == 5 { throw ServiceError.failedPrecondition("verification failed: \(differing.joined(separator: ", ")) do not read back as planned") }
      document = nil
      try await Task.sleep(for: .milliseconds(200 * attempt))
    }
  }

  /// The control's verdict on a document as inventory answers it.
  static func verdict(of control: any Control, on document: Google_Protobuf_Struct, parameters: Parameters) -> Verdict {
    control.evaluate((try? JSONValue(document)) ?? [:], parameters)
  }

  func finish(_ id: String, actor: Principal, outcome: Outcome) async throws -> Fixpoint_V1_Action {
    let window = TimeInterval(self.policy.rollbackWindowSeconds)
    let actions = self.actions
    return try await self.store.pool.write { db in
      var action = try ActionStore.load(id, in: db)
      let comment: String
      var applied = ""
      switch outcome {
      case .changed(_, let diffs, let note):
        comment = "changed and verified" + note
        applied = Self.diffText(diffs)
      case .alreadyCompliant: comment = "already compliant: recorded as a no-op"
      case .guidanceOnly: comment = "guidance recorded; no change made"
      }
      try actions.transition(&action, to: .completed, actor: actor, comment: comment, reason: applied, in: db) { a in
        a.completedAt = .init(date: Date())
        switch outcome {
        case .changed(let snapshotID, _, _), .alreadyCompliant(let snapshotID): a.snapshotID = snapshotID
        case .guidanceOnly: break
        }
        if case .changed = outcome, a.reversible { a.rollbackDeadline = .init(date: Date().addingTimeInterval(window)) }
      }
      return action
    }
  }

  func fail(_ id: String, actor: Principal, reason: String) async throws -> Fixpoint_V1_Action {
    let actions = self.actions
    // A change that failed after inventory took its snapshot (a partial write, a failed
    // verification) is rolled back from that snapshot.
    var snapshotID: String?
    var reason = reason
    let changeRequest = Self.changeRequestID(try await self.actions.get(id))
    do {
      snapshotID = try await self.inventory.getSnapshot(.with { $0.changeRequestID = changeRequest }).id
    } catch let error as RPCError where error.code == .notFound {
      snapshotID = nil  // nothing was snapshotted, so nothing was written
    } catch {
      reason += "; whether a change was made is unknown: inventory's snapshot for \(changeRequest) could not be looked up (\(error))"
      self.logger.error("snapshot lookup failed", metadata: ["action": "\(id)", "error": "\(error)"])
    }
    let (failure, snapshot) = (reason, snapshotID)
    let failed = try await self.store.pool.write { db in
      var action = try ActionStore.load(id, in: db)
      try actions.transition(&action, to: .failed, actor: actor, comment: "", reason: failure, in: db) { a in
        a.failureReason = failure
        if let snapshot { a.snapshotID = snapshot }
      }
      return action
    }
    guard self.policy.autoRollbackOnFailedVerification, failed.reversible, !failed.snapshotID.isEmpty else { return failed }
    do {
      return try await self.restore(failed, actor: Self.system, comment: "automatic rollback after a failed execution")
    } catch {
      // The action stays failed; its record, the audit trail and the log say the rollback did not happen.
      self.logger.error("automatic rollback failed", metadata: ["action": "\(id)", "error": "\(error)"])
      return try await self.store.pool.write { db in
        var action = try ActionStore.load(id, in: db)
        action.failureReason += "; the automatic rollback failed: \(error)"
        try ActionStore.save(action, openKey: nil, in: db)
        _ = try AuditChain.append(
          actionID: id, from: "failed", to: "failed", actor: Self.system, comment: "automatic rollback failed",
          details: ["reason": "\(error)", "snapshot_id": action.snapshotID], in: db)
        return action
      }
    }
  }

  // MARK: - Rollback

  func rollback(_ request: Fixpoint_V1_RollbackActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.actionID, field: "action_id", prefix: "act")
    try Validate.text(request.comment, field: "comment", max: 2000, required: false)
    let action = try await self.actions.get(request.actionID)
    guard action.state == .completed || action.state == .failed else {
      try Lifecycle.check(from: action.state, to: .rolledBack)
      return action
    }
    guard action.reversible else { throw ServiceError.failedPrecondition("action \(action.id) (\(action.handler)) is not reversible") }
    guard !action.snapshotID.isEmpty else { throw ServiceError.failedPrecondition("action \(action.id) changed nothing; there is nothing to roll back") }
    if action.state == .completed {
      guard action.hasRollbackDeadline else { throw ServiceError.failedPrecondition("action \(action.id) made no change to roll back") }
      guard action.rollbackDeadline.date >= Date() else {
        throw ServiceError.failedPrecondition("the rollback window of action \(action.id) closed at \(action.rollbackDeadline.date)")
      }
    }
    return try await self.restore(action, actor: actor, comment: request.comment)
  }

  func restore(_ action: Fixpoint_V1_Action, actor: Principal, comment: String) async throws -> Fixpoint_V1_Action {
    _ = try await self.callInventory("restore the snapshot") {
      try await self.inventory.restoreSnapshot(.with { $0.requestID = "\(action.id)-rollback"; $0.snapshotID = action.snapshotID })
    }
    let pending = try await self.callInventory("verify the rollback") {
      try await self.inventory.restoreSnapshot(.with { $0.snapshotID = action.snapshotID; $0.dryRun = true }).diffs
    }
    guard pending.isEmpty else {
      throw ServiceError.failedPrecondition("the rollback did not take: \(pending.map(\.path).joined(separator: ", ")) still differ from the snapshot")
    }
    let actions = self.actions
    return try await self.store.pool.write { db in
      var a = try ActionStore.load(action.id, in: db)
      try actions.transition(&a, to: .rolledBack, actor: actor, comment: comment, in: db)
      return a
    }
  }

  // MARK: - Crash recovery

  /// Actions a previous process left `executing` are finished: every step repeats safely (the
  /// inventory calls carry the action's request ids), so the change is never applied twice.
  func reconcile() async {
    for attempt in 1...60 {
      // On SIGTERM it stops between actions: what is left is still executing, and the next start
      // resumes it (inventory keeps each change request's answer, so nothing is applied twice).
      if Task.isShuttingDownGracefully { return }
      do {
        let stuck = try await self.store.pool.read { db in
          // Only what an earlier process left: an action a live ExecuteAction started since is its.
          try String.fetchAll(
            db, sql: "SELECT id FROM action WHERE state = ? AND updated_at < ?",
            arguments: [Fixpoint_V1_ActionState.executing.rawValue, self.startedAt])
        }
        for id in stuck {
          if Task.isShuttingDownGracefully { return }
          let action = try await self.actions.get(id)
          do {
            let outcome = try await self.perform(action)
            _ = try await self.finish(id, actor: Self.system, outcome: outcome)
          } catch let error as InventoryUnavailable {
            _ = try await self.pause(id, actor: Self.system, error: error)
          } catch let error as ServiceError {
            _ = try await self.fail(id, actor: Self.system, reason: "after a restart: \(error)")
          }
        }
        if !stuck.isEmpty { self.logger.info("reconciled interrupted actions", metadata: ["count": "\(stuck.count)"]) }
        return
      } catch {
        self.logger.warning("reconciling interrupted actions failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
      }
    }
  }

  /// A diff as one line per path, `path: before → after` (JSON values), for the audit trail.
  static func diffText(_ diffs: [Fixpoint_V1_PathDiff]) -> String {
    diffs.map { d in "\(d.path): \(Self.canonical(d.before)) → \(Self.canonical(d.after))" }.joined(separator: "\n")
  }

  /// JSON with sorted keys, so equal values read alike.
  static func canonical(_ value: Google_Protobuf_Value) -> String {
    guard let text = try? value.jsonString(), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
      let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }

  struct TimeoutError: Error { let limit: Duration }

  static func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
      group.addTask { try await body() }
      group.addTask {
        try await Task.sleep(for: limit)
        throw TimeoutError(limit: limit)
      }
      defer { group.cancelAll() }
      return try await group.next()!
    }
  }
}
