import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore

/// `fixpoint.v1.DriftService`. Reading drifts, schedules and job runs and changing a schedule
/// work; scans and IaC definitions answer UNIMPLEMENTED until built.
struct DriftRPCs: Fixpoint_V1_DriftService.SimpleServiceProtocol {
  let store: Store

  func listDrifts(request: Fixpoint_V1_ListDriftsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListDriftsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: [any DatabaseValueConvertible] = []
    if !request.resourceID.isEmpty {
      try Validate.id(request.resourceID, field: "resource_id", prefix: "res")
      conditions.append("resource_id = ?")
      arguments.append(request.resourceID)
    }
    if request.status != .unspecified { conditions.append("status = ?"); arguments.append(request.status.rawValue) }
    if request.kind != .unspecified { conditions.append("kind = ?"); arguments.append(request.kind.rawValue) }
    if request.minSeverity != .unspecified { conditions.append("severity >= ?"); arguments.append(request.minSeverity.rawValue) }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let bound = StatementArguments(arguments + [page.size, page.offset]) ?? []
    let rows = try await self.store.pool.read { db in
      try DriftRecord.fetchAll(db, sql: "SELECT * FROM drift \(whereClause) ORDER BY detected_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
    }
    return try .with {
      $0.drifts = try rows.map { try $0.proto() }
      $0.nextPageToken = page.nextToken(returned: rows.count)
    }
  }

  func getDrift(request: Fixpoint_V1_GetDriftRequest, context: ServerContext) async throws -> Fixpoint_V1_Drift {
    try Validate.id(request.driftID, field: "drift_id", prefix: "dft")
    let row = try await self.store.pool.read { db in
      try DriftRecord.fetchOne(db, cachedSQL: "SELECT * FROM drift WHERE id = ?", arguments: [request.driftID])
    }
    guard let row else { throw ServiceError.notFound(kind: "drift", id: request.driftID) }
    return try row.proto()
  }

  func listSchedules(request: Fixpoint_V1_ListSchedulesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListSchedulesResponse {
    let rows = try await self.store.pool.read { db in try ScheduleRecord.order(Column("name")).fetchAll(db) }
    return .with { $0.schedules = rows.map(\.proto) }
  }

  /// Enables, disables or re-times a schedule. The interval must be between 60 s and 7 days.
  func updateSchedule(request: Fixpoint_V1_UpdateScheduleRequest, context: ServerContext) async throws -> Fixpoint_V1_Schedule {
    try Validate.text(request.name, field: "name", max: 64)
    guard (60...604_800).contains(request.intervalSeconds) else {
      throw ServiceError.invalidArgument(field: "interval_seconds", reason: "must be between 60 and 604800")
    }
    return try await RequestLog.once(self.store, method: "UpdateSchedule", request: request, requestID: request.requestID) { db in
      guard var row = try ScheduleRecord.fetchOne(db, key: request.name) else {
        throw ServiceError.notFound(kind: "schedule", id: request.name)
      }
      row.enabled = request.enabled
      row.interval_seconds = request.intervalSeconds
      row.next_run_at = request.enabled ? Date().timeIntervalSince1970 + Double(request.intervalSeconds) : nil
      try row.update(db)
      return row.proto
    }
  }

  func listJobRuns(request: Fixpoint_V1_ListJobRunsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListJobRunsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let rows = try await self.store.pool.read { db in
      try JobRunRecord.fetchAll(db, sql: "SELECT * FROM job_run ORDER BY started_at DESC LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
    }
    return .with {
      $0.runs = rows.map(\.proto)
      $0.nextPageToken = page.nextToken(returned: rows.count)
    }
  }

  private static func later(_ method: String) -> ServiceError {
    .unimplemented("\(method): drift scans and IaC comparison are not built yet")
  }

  func runScan(request: Fixpoint_V1_RunScanRequest, context: ServerContext) async throws -> Fixpoint_V1_JobRun {
    throw Self.later("RunScan")
  }

  func updateDriftStatus(request: Fixpoint_V1_UpdateDriftStatusRequest, context: ServerContext) async throws -> Fixpoint_V1_Drift {
    throw Self.later("UpdateDriftStatus")
  }

  func uploadIaCDefinition(request: Fixpoint_V1_UploadIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_IaCDefinition {
    throw Self.later("UploadIaCDefinition")
  }

  func listIaCDefinitions(request: Fixpoint_V1_ListIaCDefinitionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListIaCDefinitionsResponse {
    throw Self.later("ListIaCDefinitions")
  }

  func getIaCDefinition(request: Fixpoint_V1_GetIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_IaCDefinition {
    throw Self.later("GetIaCDefinition")
  }

  func deleteIaCDefinition(request: Fixpoint_V1_DeleteIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteIaCDefinitionResponse {
    throw Self.later("DeleteIaCDefinition")
  }
}
