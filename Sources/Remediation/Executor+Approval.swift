import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Logging

/// Approving and rejecting: never by the requester. A guidance-only action is not approved: there
/// is no change to consent to, and approving it would let it "complete" with its control still failing.
extension Executor {
  static func guidanceOnly(_ action: Fixpoint_V1_Action) -> String {
    let resource = action.resource.externalID.isEmpty ? action.resource.resourceID : action.resource.externalID
    return "action \(action.id) is guidance only (\(action.handler) makes no change): fix \(action.resource.type) \(resource) "
      + "by hand as its guidance says, then reject it with a comment to close it"
  }

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
      guard !action.isGuidanceOnly else { throw ServiceError.failedPrecondition(Self.guidanceOnly(action)) }
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
}
