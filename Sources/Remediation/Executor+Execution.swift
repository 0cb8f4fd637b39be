import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation
import GRDB
import GRPCCore
import Logging

/// Executing a batch: which actions run, each tier within its limits, paused on an outage, retried by an operator.
extension Executor {
  /// What an ExecuteAction call did: the actions that ran, as they ended, and every other action
  /// it was asked about with the reason it did not run.
  struct Execution: Sendable {
    var ran: [Action] = []
    var notRun: [NotRun] = []
  }

  /// Executes the actions `ids` names, or with `allApproved` every approved one; with `dryRun`
  /// plans each on a fresh read and changes nothing; with `retryFailed` first puts the named
  /// failed actions back for a new attempt.
  func execute(_ ids: [String], allApproved: Bool = false, dryRun: Bool = false, retryFailed: Bool = false, by actor: Principal) async throws
    -> Execution
  {
    guard allApproved != !ids.isEmpty else {
      throw ServiceError.invalidArgument(field: "action_ids", reason: "give action ids, or all_approved, not both")
    }
    var ids = ids
    for (i, id) in ids.enumerated() { try Validate.id(id, field: "action_ids[\(i)]", prefix: "act") }
    if retryFailed {
      guard !allApproved, !dryRun else {
        throw ServiceError.invalidArgument(field: "retry_failed", reason: "name the failed actions in action_ids; not with all_approved or dry_run")
      }
      try await self.retry(ids, by: actor)
    }
    if allApproved {
      ids = try await self.store.read { db in
        try String.fetchAll(db, sql: "SELECT id FROM action WHERE state = ? ORDER BY created_at", arguments: [ActionState.approved.rawValue])
      }
    }
    let selected = ids
    let loaded = try await self.store.read { db in try selected.map { try ActionStore.load($0, in: db) } }
    if dryRun {
      var out: [Action] = []
      for var action in loaded {
        if !action.changeSet.operations.isEmpty { action.plannedDiff = try await self.inventory.plan(action.changeSet) }
        out.append(action)
      }
      return Execution(ran: out)
    }
    var execution = Execution()
    var runnable: [Action] = []
    let now = Date()
    for action in loaded {
      if let refusal = self.refusal(of: action, at: now) { execution.notRun.append(refusal) } else { runnable.append(action) }
    }
    if !runnable.isEmpty, let unreachable = await self.inventory.unreachable() {
      // Nothing is started against an inventory that is not there: each action stays approved.
      execution.notRun += runnable.map { NotRun(actionID: $0.id, cause: .inventoryUnavailable, reason: unreachable) }
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
    try await self.store.write { db in
      for id in ids {
        var action = try ActionStore.load(id, in: db)
        guard action.state == .failed else { continue }
        let attempt = max(action.attempt, 1) + 1
        let why = "retry by \(actor.subject): attempt \(attempt), after: \(action.failureReason.prefix(300))"
        try actions.transition(&action, to: action.requiresApproval ? .pendingApproval : .approved, actor: actor, comment: why, in: db) { a in
          a.attempt = attempt
          a.failureReason = ""
          a.snapshotID = ""
          a.approved = nil
          a.approvalExpiresAt = nil
        }
      }
    }
  }

  /// Executes the actions, each tier within its own concurrency and timeout, the tiers side by side.
  func run(_ ids: [String], by actor: Principal) async throws -> Execution {
    let byTier = Dictionary(grouping: try await self.store.read { db in try ids.map { try ActionStore.load($0, in: db) } }, by: \.tier)
    let ended = await withTaskGroup(of: [Ended].self) { tiers in
      for (tier, group) in byTier {
        let limit = max(self.limits.writeTurns(tier).limit, self.limits.inFlight)
        tiers.addTask { await self.run(group.map(\.id), limit: limit, timeout: self.limits.timeout[tier] ?? .seconds(60), by: actor) }
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
    let metrics = try await self.store.read { db in try RemediationMetrics.compute(in: db) }
    RemediationMetrics.publish(metrics)
    return execution
  }

  /// How one action's execution ended for the caller.
  enum Ended: Sendable {
    case ran(Action)
    case notRun(NotRun)
    var id: String {
      switch self {
      case .ran(let a): a.id
      case .notRun(let n): n.actionID
      }
    }
  }

  /// Executes `ids`, at most `limit` in inventory's hands at a time (the tier's write turns are
  /// kept there, `perform`). An action whose outcome could not be recorded is answered as not run
  /// with the error (and logged); recovery finishes it at the next start.
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
            return .notRun(NotRun(actionID: id, cause: .internalError, reason: "the dispatcher could not record the outcome of action \(id): \(error)"))
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
            .notRun(NotRun(actionID: id, cause: .inventoryUnavailable, reason: "not started: \(paused.reason)"))
          }
          next = ids.count
        }
        launch()
      }
      return done
    }
  }

  /// approved → executing → (snapshot, re-validate, apply, verify) → completed | failed. When
  /// inventory cannot be reached (unavailable, past its deadline) the action goes back to approved,
  /// audited, and the next execute completes it: inventory's answer to the action's change request
  /// id is kept, so a change that was applied before the outage is not applied twice.
  func executeOne(_ id: String, by actor: Principal, timeout: Duration) async throws -> Ended {
    let actions = self.actions
    // Only the call that moves the action to executing runs it: two calls can select the same
    // approved action (an operator's execute beside the automatic one), and the second used to
    // run it again once the first had finished, and then fail to record a second ending.
    let (started, mine) = try await self.store.write { db -> (Action, Bool) in
      var action = try ActionStore.load(id, in: db)
      guard action.state == .approved else { return (action, false) }
      try actions.transition(&action, to: .executing, actor: actor, comment: "", in: db)
      return (action, true)
    }
    guard mine else {
      return .notRun(self.refusal(of: started, at: Date()) ?? NotRun(actionID: id, cause: .inProgress, reason: "action \(id) is executing in another call"))
    }
    return try await self.resourceLocks.run(started.resource.resourceID) {
      do {
        let outcome = try await Deadline.run(timeout) { try await self.perform(started) }
        return .ran(try await self.finish(id, actor: actor, outcome: outcome))
      } catch let error as InventoryUnavailable {
        return .notRun(try await self.pause(id, actor: actor, error: error))
      } catch {
        let reason = "\(error)"
        return .ran(try await self.fail(id, actor: actor, reason: reason))
      }
    }
  }

  /// executing → approved: inventory could not be reached; the action runs on the next call.
  func pause(_ id: String, actor: Principal, error: InventoryUnavailable) async throws -> NotRun {
    let actions = self.actions
    let reason = "\(error); the action stays approved and runs on the next execute"
    try await self.store.write { db in
      var action = try ActionStore.load(id, in: db)
      try actions.transition(&action, to: .approved, actor: actor, comment: "paused: inventory unreachable", reason: reason, in: db)
    }
    self.logger.warning("execution paused", metadata: ["action": "\(id)", "error": "\(error)"])
    return NotRun(actionID: id, cause: .inventoryUnavailable, reason: reason)
  }
}
