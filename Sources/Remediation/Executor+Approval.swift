import FixpointCore
import Foundation
import GRDB
import GRPCCore
import Logging

/// Approving and rejecting: never by the requester. A guidance-only action is not approved: there
/// is no change to consent to, and approving it would let it "complete" with its control still failing.
extension Executor {
  static func guidanceOnly(_ action: Action) -> String {
    let resource = action.resource.externalID.isEmpty ? action.resource.resourceID : action.resource.externalID
    return "action \(action.id) is guidance only (\(action.handler) makes no change): fix \(action.resource.type) \(resource) "
      + "by hand as its guidance says, then reject it with a comment to close it"
  }

  func approve(_ id: String, comment: String, by actor: Principal, once: Once = .always) async throws -> Action {
    try Validate.id(id, field: "action_id", prefix: "act")
    try Validate.text(comment, field: "comment", max: 2000, required: false)
    let ttl = TimeInterval(self.policy.approvalTTLSeconds)
    let actions = self.actions
    return try await once.run(self.store) { db in
      var action = try ActionStore.load(id, in: db)
      guard action.requested.subject != actor.subject else {
        throw ServiceError.permissionDenied("\(actor.subject) requested this action and cannot also approve it")
      }
      guard !action.isGuidanceOnly else { throw ServiceError.failedPrecondition(Self.guidanceOnly(action)) }
      try actions.transition(&action, to: .approved, actor: actor, comment: comment, in: db) { a in
        a.approved = ActorStamp(actor)
        a.approvalExpiresAt = Date().addingTimeInterval(ttl)
      }
      return action
    }
  }

  func reject(_ id: String, comment: String, by actor: Principal, once: Once = .always) async throws -> Action {
    try Validate.id(id, field: "action_id", prefix: "act")
    try Validate.text(comment, field: "comment", max: 2000)
    let actions = self.actions
    return try await once.run(self.store) { db in
      var action = try ActionStore.load(id, in: db)
      guard action.requested.subject != actor.subject else {
        throw ServiceError.permissionDenied("\(actor.subject) requested this action and cannot also decide on it")
      }
      try actions.transition(&action, to: .rejected, actor: actor, comment: comment, in: db)
      return action
    }
  }
}
