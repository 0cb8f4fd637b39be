import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore

/// `fixpoint.v1.DriftService`: scans (baselines and IaC definitions), drifts, IaC definitions,
/// schedules and job runs.
struct DriftRPCs: Fixpoint_V1_DriftService.SimpleServiceProtocol {
  let store: Store
  let scanner: Scanner
  let schedules: Schedules

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
    let rows = try await self.store.read { db in
      try DriftRecord.fetchAll(db, sql: "SELECT * FROM drift \(whereClause) ORDER BY detected_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
    }
    return try .with {
      ($0.drifts, $0.nextPageToken) = page.fit(try rows.map { try $0.proto() })
    }
  }

  func getDrift(request: Fixpoint_V1_GetDriftRequest, context: ServerContext) async throws -> Fixpoint_V1_Drift {
    try Validate.id(request.driftID, field: "drift_id", prefix: "dft")
    let row = try await self.store.read { db in
      try DriftRecord.fetchOne(db, cachedSQL: "SELECT * FROM drift WHERE id = ?", arguments: [request.driftID])
    }
    guard let row else { throw ServiceError.notFound(kind: "drift", id: request.driftID) }
    let history = try await self.store.read { db in
      try DriftChangeRecord.fetchAll(db, sql: "SELECT * FROM drift_change WHERE drift_id = ? ORDER BY seq", arguments: [row.id])
    }
    return try row.proto(history: history)
  }

  func listSchedules(request: Fixpoint_V1_ListSchedulesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListSchedulesResponse {
    try await self.schedules.list()
  }

  func updateSchedule(request: Fixpoint_V1_UpdateScheduleRequest, context: ServerContext) async throws -> Fixpoint_V1_Schedule {
    try await self.schedules.update(request)
  }

  func runSchedule(request: Fixpoint_V1_RunScheduleRequest, context: ServerContext) async throws -> Fixpoint_V1_JobRun {
    try await self.schedules.runNow(request, by: try currentPrincipal())
  }

  func listJobRuns(request: Fixpoint_V1_ListJobRunsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListJobRunsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let rows = try await self.store.read { db in
      try JobRunRecord.fetchAll(db, sql: "SELECT * FROM job_run ORDER BY started_at DESC LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
    }
    return .with {
      ($0.runs, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func getJobRun(request: Fixpoint_V1_GetJobRunRequest, context: ServerContext) async throws -> Fixpoint_V1_JobRun {
    try Validate.id(request.jobID, field: "job_id", prefix: "job")
    let row = try await self.store.read { db in try JobRunRecord.fetchOne(db, key: request.jobID) }
    guard let row else { throw ServiceError.notFound(kind: "job run", id: request.jobID) }
    return row.proto
  }

  func runScan(request: Fixpoint_V1_RunScanRequest, context: ServerContext) async throws -> Fixpoint_V1_JobRun {
    try await self.scanner.enqueue(request, by: try currentPrincipal())
  }

  /// detected → investigating → resolved, or back to detected. Resolving by hand ends the drift
  /// (and its finding); a later scan that still sees the difference opens a new one: to accept
  /// the live state, capture a new baseline instead. A comment is required to resolve.
  func updateDriftStatus(request: Fixpoint_V1_UpdateDriftStatusRequest, context: ServerContext) async throws -> Fixpoint_V1_Drift {
    try Validate.id(request.driftID, field: "drift_id", prefix: "dft")
    try Validate.text(request.comment, field: "comment", max: 2000, required: request.status == .resolved)
    guard [.detected, .investigating, .resolved].contains(request.status) else {
      throw ServiceError.invalidArgument(field: "status", reason: "must be STATUS_DETECTED, STATUS_INVESTIGATING or STATUS_RESOLVED")
    }
    let actor = try currentPrincipal()
    let outbox = self.scanner.outbox
    let updated = try await RequestLog.once(self.store, method: "UpdateDriftStatus", request: request, requestID: request.requestID) { db in
      guard var drift = try DriftRecord.fetchOne(db, key: request.driftID) else {
        throw ServiceError.notFound(kind: "drift", id: request.driftID)
      }
      let from = Fixpoint_V1_Drift.Status(rawValue: drift.status) ?? .unspecified
      guard from != request.status else {
        throw ServiceError.failedPrecondition("drift \(drift.id) is already \(request.status)")
      }
      let now = Date().timeIntervalSince1970
      switch request.status {
      case .resolved:
        try Scanner.resolve(&drift, comment: request.comment, now: now, by: actor, outbox: outbox, in: db)
      case .investigating, .detected:
        var event = "investigating"
        if from == .resolved {
          let key = DriftRecord.openKey(resourceID: drift.resource_id, source: drift.source)
          if let other = try String.fetchOne(db, sql: "SELECT id FROM drift WHERE open_key = ?", arguments: [key]) {
            throw ServiceError.failedPrecondition("\(other) is the resource's open drift now; a resource has one")
          }
          drift.open_key = key
          event = "reopened"
        } else if request.status == .detected {
          event = "detected"
        }
        drift.status = request.status.rawValue
        (drift.updated_at, drift.updated_by, drift.updated_role, drift.comment) = (now, actor.subject, actor.role.rawValue, request.comment)
        try drift.update(db)
        try DriftChangeRecord.next(of: drift, event: event, in: db).insert(db)
        if from == .resolved { try outbox.enqueue(Scanner.event(drift, outbox: outbox), in: db) }
      default:
        break
      }
      return try drift.proto()
    }
    return try await self.getDrift(request: .with { $0.driftID = updated.id }, context: context)
  }

  func uploadIaCDefinition(request: Fixpoint_V1_UploadIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_IaCDefinition {
    try await self.scanner.definitions.upload(request, by: try currentPrincipal())
  }

  func listIaCDefinitions(request: Fixpoint_V1_ListIaCDefinitionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListIaCDefinitionsResponse {
    try await self.scanner.definitions.list(request)
  }

  func getIaCDefinition(request: Fixpoint_V1_GetIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_IaCDefinition {
    try await self.scanner.definitions.get(request.definitionID)
  }

  func deleteIaCDefinition(request: Fixpoint_V1_DeleteIaCDefinitionRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteIaCDefinitionResponse {
    try await self.scanner.definitions.delete(request, by: try currentPrincipal(), outbox: self.scanner.outbox)
  }
}
