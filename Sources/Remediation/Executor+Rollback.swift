import FixpointCore
import Foundation
import GRDB
import GRPCCore
import Logging

/// Rolling back a completed (or failed) action from its snapshot, within the window.
extension Executor {
  func rollback(_ id: String, comment: String, by actor: Principal) async throws -> Action {
    try Validate.id(id, field: "action_id", prefix: "act")
    try Validate.text(comment, field: "comment", max: 2000, required: false)
    let action = try await self.store.read { db in try ActionStore.load(id, in: db) }
    guard action.state == .completed || action.state == .failed else {
      try Lifecycle.check(from: action.state, to: .rolledBack)
      return action
    }
    guard action.reversible else { throw ServiceError.failedPrecondition("action \(action.id) (\(action.handler)) is not reversible") }
    guard !action.snapshotID.isEmpty else { throw ServiceError.failedPrecondition("action \(action.id) changed nothing; there is nothing to roll back") }
    if action.state == .completed {
      guard let deadline = action.rollbackDeadline else { throw ServiceError.failedPrecondition("action \(action.id) made no change to roll back") }
      guard deadline >= Date() else {
        throw ServiceError.failedPrecondition("the rollback window of action \(action.id) closed at \(deadline)")
      }
    }
    return try await self.resourceLocks.run(action.resource.resourceID) {
      try await self.restore(action, actor: actor, comment: comment)
    }
  }

  func restore(_ action: Action, actor: Principal, comment: String) async throws -> Action {
    try await self.inventory.restore(action.snapshotID, requestID: "\(action.id)-rollback")
    let pending = try await self.inventory.differences(from: action.snapshotID)
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
