import FixpointCore
import FixpointProtocol
import GRPCCore

/// `fixpoint.v1.RemediationService`. Findings, the (still empty) handler catalogue and the
/// configured policy work; the action lifecycle answers UNIMPLEMENTED until it is built.
struct RemediationRPCs: Fixpoint_V1_RemediationService.SimpleServiceProtocol {
  let findings: FindingStore
  let policy: PolicyDefaults

  private static func later(_ method: String) -> ServiceError {
    .unimplemented("\(method): the remediation lifecycle (handlers, approvals, execution through inventory, audit) is not built yet")
  }

  func submitFinding(request: Fixpoint_V1_SubmitFindingRequest, context: ServerContext) async throws -> Fixpoint_V1_Finding {
    try await self.findings.submit(request)
  }

  func listFindings(request: Fixpoint_V1_ListFindingsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListFindingsResponse {
    let (rows, page) = try await self.findings.list(request)
    return .with {
      $0.findings = rows.map(\.proto)
      $0.nextPageToken = page.nextToken(returned: rows.count)
    }
  }

  func listHandlers(request: Fixpoint_V1_ListHandlersRequest, context: ServerContext) async throws -> Fixpoint_V1_ListHandlersResponse {
    // The catalogue is empty until the first handlers land; an empty list is the true answer.
    Fixpoint_V1_ListHandlersResponse()
  }

  func getPolicy(request: Fixpoint_V1_GetPolicyRequest, context: ServerContext) async throws -> Fixpoint_V1_Policy {
    self.policy.proto
  }

  func suggestAction(request: Fixpoint_V1_SuggestActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    throw Self.later("SuggestAction")
  }

  func listActions(request: Fixpoint_V1_ListActionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListActionsResponse {
    throw Self.later("ListActions")
  }

  func getAction(request: Fixpoint_V1_GetActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    throw Self.later("GetAction")
  }

  func approveAction(request: Fixpoint_V1_ApproveActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    throw Self.later("ApproveAction")
  }

  func rejectAction(request: Fixpoint_V1_RejectActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    throw Self.later("RejectAction")
  }

  func executeAction(request: Fixpoint_V1_ExecuteActionRequest, context: ServerContext) async throws -> Fixpoint_V1_ExecuteActionResponse {
    throw Self.later("ExecuteAction")
  }

  func rollbackAction(request: Fixpoint_V1_RollbackActionRequest, context: ServerContext) async throws -> Fixpoint_V1_Action {
    throw Self.later("RollbackAction")
  }

  func getAuditTrail(request: Fixpoint_V1_GetAuditTrailRequest, context: ServerContext) async throws -> Fixpoint_V1_GetAuditTrailResponse {
    throw Self.later("GetAuditTrail")
  }

  func verifyAuditChain(request: Fixpoint_V1_VerifyAuditChainRequest, context: ServerContext) async throws -> Fixpoint_V1_VerifyAuditChainResponse {
    throw Self.later("VerifyAuditChain")
  }

  func updatePolicy(request: Fixpoint_V1_UpdatePolicyRequest, context: ServerContext) async throws -> Fixpoint_V1_Policy {
    throw Self.later("UpdatePolicy")
  }

  func getMetrics(request: Fixpoint_V1_GetMetricsRequest, context: ServerContext) async throws -> Fixpoint_V1_RemediationMetrics {
    throw Self.later("GetMetrics")
  }
}
