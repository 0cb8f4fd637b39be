import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import SwiftProtobuf

/// `fixpoint.v1.RemediationService`: findings, handlers, the action lifecycle, policy, metrics and
/// the audit trail.
struct RemediationRPCs: Fixpoint_V1_RemediationService.SimpleServiceProtocol {
  let findings: FindingStore
  let book: PolicyBook
  let executor: Executor

  func submitFinding(request: Fixpoint_V1_SubmitFindingRequest, context: ServerContext) async throws -> Fixpoint_V1_Finding {
    try await self.findings.submit(request)
  }

  func listFindings(request: Fixpoint_V1_ListFindingsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListFindingsResponse {
    let (rows, page) = try await self.findings.list(request)
    return .with {
      ($0.findings, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func listHandlers(request: Fixpoint_V1_ListHandlersRequest, context: ServerContext) async throws -> Fixpoint_V1_ListHandlersResponse {
    .with { $0.handlers = HandlerCatalogue.all.map(\.info.proto) }
  }

  func getPolicy(request: Fixpoint_V1_GetPolicyRequest, context: ServerContext) async throws -> Fixpoint_V1_Policy {
    self.book.current.proto
  }

  func suggestAction(request: Fixpoint_V1_SuggestActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    let once = Once.request("SuggestAction", request, requestID: request.requestID)
    return try await self.executor.actions.answer(
      try await self.executor.suggest(findingID: request.findingID, handler: request.handler, by: try currentPrincipal(), once: once))
  }

  func listActions(request: Fixpoint_V1_ListActionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListActionsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var state: ActionState?
    if request.state != .unspecified {
      guard let known = ActionState(request.state) else { throw ServiceError.invalidArgument(field: "state", reason: "unknown action state") }
      state = known
    }
    let actions = try await self.executor.actions.list(state: state, resourceID: request.resourceID, handler: request.handler, page: page)
    return .with {
      ($0.actions, $0.nextPageToken) = page.fit(actions)
    }
  }

  func getAction(request: Fixpoint_V1_GetActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.get(request.actionID)
  }

  func approveAction(request: Fixpoint_V1_ApproveActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    let once = Once.request("ApproveAction", request, requestID: request.requestID)
    return try await self.executor.actions.answer(
      try await self.executor.approve(request.actionID, comment: request.comment, by: try currentPrincipal(), once: once))
  }

  func rejectAction(request: Fixpoint_V1_RejectActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    let once = Once.request("RejectAction", request, requestID: request.requestID)
    return try await self.executor.actions.answer(
      try await self.executor.reject(request.actionID, comment: request.comment, by: try currentPrincipal(), once: once))
  }

  func executeAction(request: Fixpoint_V1_ExecuteActionRequest, context: ServerContext) async throws -> Fixpoint_V1_ExecuteActionResponse {
    // A batch can be thousands of actions: each without the resource document it was suggested
    // on (GetAction has it), so the answer stays small.
    let execution = try await self.executor.execute(
      request.actionIds, allApproved: request.allApproved, dryRun: request.dryRun, retryFailed: request.retryFailed, by: try currentPrincipal())
    return .with {
      $0.actions = execution.ran.map(\.proto)
      $0.notRun = execution.notRun.map(\.proto)
    }
  }

  func rollbackAction(request: Fixpoint_V1_RollbackActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.answer(
      try await self.executor.rollback(request.actionID, comment: request.comment, by: try currentPrincipal()))
  }

  func getAuditTrail(request: Fixpoint_V1_GetAuditTrailRequest, context: ServerContext) async throws -> Fixpoint_V1_GetAuditTrailResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    if !request.actionID.isEmpty { try Validate.id(request.actionID, field: "action_id", prefix: "act") }
    let entries = try await self.executor.store.read { db in
      (request.actionID.isEmpty
        ? try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY sequence LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
        : try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE action_id = ? ORDER BY sequence LIMIT ? OFFSET ?", arguments: [request.actionID, page.size, page.offset])
      ).map(AuditChain.proto)
    }
    return .with {
      ($0.entries, $0.nextPageToken) = page.fit(entries)
    }
  }

  func verifyAuditChain(request: Fixpoint_V1_VerifyAuditChainRequest, context: ServerContext) async throws -> Fixpoint_V1_VerifyAuditChainResponse {
    try await self.executor.store.read { db in try AuditChain.verify(in: db) }.proto
  }

  func updatePolicy(request: Fixpoint_V1_UpdatePolicyRequest, context: ServerContext) async throws -> Fixpoint_V1_Policy {
    let (policy, mask) = (request.policy, request.updateMask)
    return try await self.book.update(fields: mask, by: try currentPrincipal()) { current in
      try current.applying(policy, mask: mask, handlers: Set(HandlerCatalogue.byName.keys))
    }.proto
  }

  func getMetrics(request: Fixpoint_V1_GetMetricsRequest, context: ServerContext) async throws -> Fixpoint_V1_RemediationMetrics {
    let metrics = try await self.executor.store.read { db in try RemediationMetrics.compute(in: db) }
    RemediationMetrics.publish(metrics)
    return metrics.proto
  }
}

/// What the RPCs read: an action as stored (its message) with the resource document it was
/// suggested on, straight from the rows.
extension ActionStore {
  /// `action` as an RPC answers it (as it was when the call ended, or as it was first answered
  /// for a repeated request id), with the resource document it was suggested on.
  func answer(_ action: Action) async throws -> Fixpoint_V1_Action {
    var answer = action.proto
    let id = action.id
    if let data = try await self.store.read({ db in try Data.fetchOne(db, sql: "SELECT configuration FROM action WHERE id = ?", arguments: [id]) }) {
      answer.currentConfiguration = try Google_Protobuf_Struct(serializedBytes: data)
    }
    return answer
  }

  /// An action as the RPCs answer it, from a row of `message, configuration`.
  static func answered(_ row: Row) throws -> Fixpoint_V1_Action {
    var action = try Fixpoint_V1_Action(serializedBytes: row["message"] as Data)
    if let configuration = row["configuration"] as Data? { action.currentConfiguration = try Google_Protobuf_Struct(serializedBytes: configuration) }
    return action
  }

  func get(_ id: String) async throws -> Fixpoint_V1_Action {
    try Validate.id(id, field: "action_id", prefix: "act")
    return try await self.store.read { db in
      guard let row = try Row.fetchOne(db, sql: "SELECT message, configuration FROM action WHERE id = ?", arguments: [id]) else {
        throw ServiceError.notFound(kind: "action", id: id)
      }
      return try Self.answered(row)
    }
  }

  /// A page of actions, newest first, as the RPCs answer them; each filter applies when given.
  func list(state: ActionState?, resourceID: String, handler: String, page: Page) async throws -> [Fixpoint_V1_Action] {
    var conditions: [String] = []
    var arguments: [any DatabaseValueConvertible] = []
    if let state {
      conditions.append("state = ?")
      arguments.append(state.rawValue)
    }
    if !resourceID.isEmpty {
      try Validate.id(resourceID, field: "resource_id", prefix: "res")
      conditions.append("resource_id = ?")
      arguments.append(resourceID)
    }
    if !handler.isEmpty {
      guard HandlerCatalogue.byName[handler] != nil else { throw ServiceError.invalidArgument(field: "handler", reason: "unknown handler") }
      conditions.append("handler = ?")
      arguments.append(handler)
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let bound = StatementArguments(arguments + [page.size, page.offset]) ?? []
    return try await self.store.read { db in
      try Row.fetchAll(db, sql: "SELECT message, configuration FROM action \(whereClause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
        .map(Self.answered)
    }
  }
}
