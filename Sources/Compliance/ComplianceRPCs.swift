import FixpointCore
import FixpointProtocol
import GRDB
import GRPCCore

/// `fixpoint.v1.ComplianceService`. Frameworks can be listed; the control packs and everything
/// built on them answer UNIMPLEMENTED until built.
struct ComplianceRPCs: Fixpoint_V1_ComplianceService.SimpleServiceProtocol {
  let store: Store

  func listFrameworks(request: Fixpoint_V1_ListFrameworksRequest, context: ServerContext) async throws -> Fixpoint_V1_ListFrameworksResponse {
    let rows = try await self.store.pool.read { db in
      try FrameworkRecord.fetchAll(db, sql: "SELECT * FROM framework ORDER BY id")
    }
    return .with {
      $0.frameworks = rows.map { row in
        .with {
          $0.id = row.id
          $0.name = row.name
          $0.version = row.version
          $0.description_p = row.description
        }
      }
    }
  }

  private static func later(_ method: String) -> ServiceError {
    .unimplemented("\(method): control packs, assessments, plan evaluation, waivers and exports are not built yet")
  }

  func listControls(request: Fixpoint_V1_ListControlsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListControlsResponse {
    throw Self.later("ListControls")
  }

  func getControl(request: Fixpoint_V1_GetControlRequest, context: ServerContext) async throws -> Fixpoint_V1_Control {
    throw Self.later("GetControl")
  }

  func runAssessment(request: Fixpoint_V1_RunAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_Assessment {
    throw Self.later("RunAssessment")
  }

  func getAssessment(request: Fixpoint_V1_GetAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_Assessment {
    throw Self.later("GetAssessment")
  }

  func listAssessments(request: Fixpoint_V1_ListAssessmentsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListAssessmentsResponse {
    throw Self.later("ListAssessments")
  }

  func listResults(request: Fixpoint_V1_ListResultsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListResultsResponse {
    throw Self.later("ListResults")
  }

  func evaluatePlan(request: Fixpoint_V1_EvaluatePlanRequest, context: ServerContext) async throws -> Fixpoint_V1_EvaluatePlanResponse {
    throw Self.later("EvaluatePlan")
  }

  func createWaiver(request: Fixpoint_V1_CreateWaiverRequest, context: ServerContext) async throws -> Fixpoint_V1_Waiver {
    throw Self.later("CreateWaiver")
  }

  func listWaivers(request: Fixpoint_V1_ListWaiversRequest, context: ServerContext) async throws -> Fixpoint_V1_ListWaiversResponse {
    throw Self.later("ListWaivers")
  }

  func deleteWaiver(request: Fixpoint_V1_DeleteWaiverRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteWaiverResponse {
    throw Self.later("DeleteWaiver")
  }

  func exportAssessment(request: Fixpoint_V1_ExportAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_ExportAssessmentResponse {
    throw Self.later("ExportAssessment")
  }
}
