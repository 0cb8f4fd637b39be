import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Logging

/// Rolling back a completed (or failed) action from its snapshot, within the window.
extension Executor {
  func rollback(_ request: Fixpoint_V1_RollbackActionRequest, by actor: Principal) async throws -> Fixpoint_V1_Action {
    try Validate.id(request.actionID, field: "action_id", prefix: "act")
    try Validate.text(request.comment, field: "comment", max: 2000, required: false)
    let action = try await self.store.read { db in try ActionStore.load(request.actionID, in: db) }
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
    return try await self.resourceLocks.run(action.resource.resourceID) {
      try await self.restore(action, actor: actor, comment: request.comment)
    }
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
    return try await self.store.write { db in
      var a = try ActionStore.load(action.id, in: db)
      try actions.transition(&a, to: .rolledBack, actor: actor, comment: comment, in: db)
      return a
    }
  }
}
