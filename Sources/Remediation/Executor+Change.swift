import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation
import GRDB
import GRPCCore
import Logging

/// One action's change: applied through inventory with a snapshot, verified by its control, recorded as completed or failed.
extension Executor {
  /// How an action's change ended, for `finish`.
  enum Outcome { case changed(snapshotID: String, applied: [PathDiff], note: String), alreadyCompliant(snapshotID: String) }

  /// The cloud part of an execution, one inventory call that is safe to repeat: inventory reads
  /// the fields fresh, stores the snapshot, re-validates (already compliant → nothing written),
  /// writes and reads back. A repeat after a crash reuses the snapshot and the first answer.
  func perform(_ action: Action) async throws -> Outcome {
    // Batch selection never runs guidance; one approved and left executing by an older version fails here, named.
    guard !action.isGuidanceOnly else { throw ServiceError.failedPrecondition(Self.guidanceOnly(action)) }
    let reverts = HandlerCatalogue.byName[action.handler]?.info.revertsToBaseline == true
    let control = reverts ? nil : try await self.control(of: action)
    let keySink = HandlerCatalogue.byName[action.handler]?.info.deliversNewAccessKey == true ? self.handlerConfig.iamKeySink : nil
    // The tier's concurrency bounds the writes, in inventory: the reads of the changes waiting for
    // a turn share describe calls there (see `run`'s changes in flight).
    let applied = try await self.inventory.apply(
      action.changeSet, requestID: Self.changeRequestID(action), newAccessKeySink: keySink, writeTurns: self.limits.writeTurns(action.tier))
    // inventory re-read the fields after writing (or found them in place): when the control passes
    // on that read it is the verification; otherwise read again, bounded (eventual consistency).
    if let control {
      try await self.verify(action.changeSet, control: control, after: applied.after)
    } else {
      try await self.verifyValues(action.changeSet, after: applied.after)
    }
    if applied.diffs.isEmpty { return .alreadyCompliant(snapshotID: applied.snapshotID) }
    let note = applied.newAccessKeyID.isEmpty ? "" : "; new access key \(applied.newAccessKeyID) delivered to \(self.handlerConfig.iamKeySink)"
    return .changed(snapshotID: applied.snapshotID, applied: applied.diffs, note: note)
  }

  /// The request id of an action's change in inventory (and so of its snapshot): one per attempt.
  static func changeRequestID(_ action: Action) -> String {
    action.attempt <= 1 ? "\(action.id)-apply" : "\(action.id)-apply-\(action.attempt)"
  }

  /// The control an action fixes: the one its finding names, as its handler resolves it.
  func control(of action: Action) async throws -> any Control {
    guard let handler = HandlerCatalogue.byName[action.handler] else {
      throw ServiceError.failedPrecondition("action \(action.id) names the unknown handler \(action.handler)")
    }
    let finding = try await self.store.read { db in try FindingRecord.fetchOne(db, key: action.findingID) }
    guard let control = handler.control(for: finding?.control_id ?? "", resourceType: action.resource.type) else {
      throw ServiceError.failedPrecondition("\(action.handler) knows no control for finding \(action.findingID) on \(action.resource.type)")
    }
    return control
  }

  /// Passes when `control` passes on a fresh read of the resource: first `after` (inventory's read
  /// right after the change), then new reads, a bounded number of times, for eventual
  /// consistency. Not "the values written are there": the control itself must pass.
  func verify(_ changeSet: ChangeSet, control: any Control, after: JSONValue?) async throws {
    let parameters = self.handlerConfig.parameters(for: control.id)
    var document = after
    for attempt in 1...5 {
      if document == nil { document = try await self.inventory.read(changeSet) ?? [:] }
      let verdict = Self.verdict(of: control, on: document!, parameters: parameters)
      if verdict == .pass { return }
      if attempt == 5 { throw ServiceError.failedPrecondition("verification failed: \(control.id) does not pass after the change: \(verdict)") }
      document = nil
      try await Task.sleep(for: .milliseconds(200 * attempt))
    }
  }

  /// For a handler no control verifies (RevertToBaseline): each written field reads back as
  /// planned, on inventory's read after the change and then fresh reads, bounded.
  func verifyValues(_ changeSet: ChangeSet, after: JSONValue?) async throws {
    var document = after
    for attempt in 1...5 {
      if document == nil { document = try await self.inventory.read(changeSet) ?? [:] }
      let differing = RevertToBaseline.verdict(changeSet, after: document!)
      if differing.isEmpty { return }
      if attempt == 5 { throw ServiceError.failedPrecondition("verification failed: \(differing.joined(separator: ", ")) do not read back as planned") }
      document = nil
      try await Task.sleep(for: .milliseconds(200 * attempt))
    }
  }

  /// The control's verdict on a resource's document.
  static func verdict(of control: any Control, on document: JSONValue, parameters: Parameters) -> Verdict {
    control.evaluate(document, parameters)
  }

  func finish(_ id: String, actor: Principal, outcome: Outcome) async throws -> Action {
    let window = TimeInterval(self.policy.rollbackWindowSeconds)
    let actions = self.actions
    return try await self.store.write { db in
      var action = try ActionStore.load(id, in: db)
      let comment: String
      var applied = ""
      switch outcome {
      case .changed(_, let diffs, let note):
        comment = "changed and verified" + note
        applied = Self.diffText(diffs)
      case .alreadyCompliant: comment = "already compliant: recorded as a no-op"
      }
      try actions.transition(&action, to: .completed, actor: actor, comment: comment, reason: applied, in: db) { a in
        a.completedAt = Date()
        switch outcome {
        case .changed(let snapshotID, _, _), .alreadyCompliant(let snapshotID): a.snapshotID = snapshotID
        }
        if case .changed = outcome, a.reversible { a.rollbackDeadline = Date().addingTimeInterval(window) }
      }
      return action
    }
  }

  func fail(_ id: String, actor: Principal, reason: String) async throws -> Action {
    let actions = self.actions
    // A change that failed after inventory took its snapshot (a partial write, a failed
    // verification) is rolled back from that snapshot.
    var snapshotID: String?
    var reason = reason
    let changeRequest = Self.changeRequestID(try await self.store.read { db in try ActionStore.load(id, in: db) })
    do {
      snapshotID = try await self.inventory.snapshotID(forChange: changeRequest)  // nil: nothing was snapshotted, so nothing was written
    } catch {
      reason += "; whether a change was made is unknown: inventory's snapshot for \(changeRequest) could not be looked up (\(error))"
      self.logger.error("snapshot lookup failed", metadata: ["action": "\(id)", "error": "\(error)"])
    }
    let (failure, snapshot) = (reason, snapshotID)
    let failed = try await self.store.write { db in
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
      return try await self.store.write { db in
        var action = try ActionStore.load(id, in: db)
        action.failureReason += "; the automatic rollback failed: \(error)"
        try ActionStore.save(action, in: db)
        _ = try AuditChain.append(
          actionID: id, from: "failed", to: "failed", actor: Self.system, comment: "automatic rollback failed",
          details: ["reason": "\(error)", "snapshot_id": action.snapshotID], in: db)
        return action
      }
    }
  }
}
