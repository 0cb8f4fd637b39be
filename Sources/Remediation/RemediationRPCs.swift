import FixpointCore
import FixpointProtocol
import GRDB
import GRPCCore

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
    try await self.executor.actions.answer(try await self.executor.suggest(request, by: try currentPrincipal()))
  }

  func listActions(request: Fixpoint_V1_ListActionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListActionsResponse {
    let (actions, page) = try await self.executor.actions.list(request)
    return .with {
      ($0.actions, $0.nextPageToken) = page.fit(actions)
    }
  }

  func getAction(request: Fixpoint_V1_GetActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.get(request.actionID)
  }

  func approveAction(request: Fixpoint_V1_ApproveActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.answer(try await self.executor.approve(request, by: try currentPrincipal()))
  }

  func rejectAction(request: Fixpoint_V1_RejectActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.answer(try await self.executor.reject(request, by: try currentPrincipal()))
  }

  func executeAction(request: Fixpoint_V1_ExecuteActionRequest, context: ServerContext) async throws -> Fixpoint_V1_ExecuteActionResponse {
    // A batch can be thousands of actions: each without the resource document it was suggested
    // on (GetAction has it), so the answer stays small.
    let execution = try await self.executor.execute(request, by: try currentPrincipal())
    return .with {
      $0.actions = execution.ran.map { a in var a = a; a.clearCurrentConfiguration(); return a }
      $0.notRun = execution.notRun
    }
  }

  func rollbackAction(request: Fixpoint_V1_RollbackActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    try await self.executor.actions.answer(try await self.executor.rollback(request, by: try currentPrincipal()))
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
    try await self.executor.store.read { db in try AuditChain.verify(in: db) }
  }

  func updatePolicy(request: Fixpoint_V1_UpdatePolicyRequest, context: ServerContext) async throws -> Fixpoint_V1_Policy {
    try await self.book.update(request, by: try currentPrincipal())
  }

  func getMetrics(request: Fixpoint_V1_GetMetricsRequest, context: ServerContext) async throws -> Fixpoint_V1_RemediationMetrics {
    let metrics = try await self.executor.store.read { db in try RemediationMetrics.compute(in: db) }
    RemediationMetrics.publish(metrics)
    return metrics
  }
}
