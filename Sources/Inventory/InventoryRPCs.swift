import CloudAWS
import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore

/// `fixpoint.v1.InventoryService`: providers, discovery, baselines, snapshots and changes.
struct InventoryRPCs: Fixpoint_V1_InventoryService.SimpleServiceProtocol {
  let store: Store
  let providers: Providers
  let sync: SyncEngine
  let changes: ChangeService

  func listProviders(request: Fixpoint_V1_ListProvidersRequest, context: ServerContext) async throws -> Fixpoint_V1_ListProvidersResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let filter = request.includeDisconnected ? "" : "WHERE status != \(Fixpoint_V1_Provider.Status.disconnected.rawValue)"
    let rows = try await self.store.read { db in
      try ProviderRecord.fetchAll(
        db, sql: "SELECT \(ProviderRecord.publicColumns) FROM provider \(filter) ORDER BY created_at, id LIMIT ? OFFSET ?",
        arguments: [page.size, page.offset])
    }
    return .with {
      ($0.providers, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func getProvider(request: Fixpoint_V1_GetProviderRequest, context: ServerContext) async throws -> Fixpoint_V1_Provider {
    try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
    let row = try await self.store.read { db in
      try ProviderRecord.fetchOne(db, cachedSQL: "SELECT \(ProviderRecord.publicColumns) FROM provider WHERE id = ?", arguments: [request.providerID])
    }
    guard let row else { throw ServiceError.notFound(kind: "provider", id: request.providerID) }
    return row.proto
  }

  func listResources(request: Fixpoint_V1_ListResourcesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListResourcesResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: [any DatabaseValueConvertible] = []
    if !request.providerID.isEmpty {
      try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
      conditions.append("provider_id = ?")
      arguments.append(request.providerID)
    }
    if !request.type.isEmpty {
      guard request.type.count <= 64, request.type.allSatisfy({ $0.isLowercase || $0 == "_" || $0.isNumber }) else {
        throw ServiceError.invalidArgument(field: "type", reason: "expected a resource type such as s3_bucket")
      }
      conditions.append("type = ?")
      arguments.append(request.type)
    }
    if !request.region.isEmpty {
      try Validate.text(request.region, field: "region", max: 32)
      conditions.append("region = ?")
      arguments.append(request.region)
    }
    for (i, tag) in request.tags.enumerated() {
      let parts = tag.split(separator: "=", maxSplits: 1)
      guard parts.count == 2, !parts[0].isEmpty else {
        throw ServiceError.invalidArgument(field: "tags[\(i)]", reason: "expected key=value")
      }
      conditions.append("json_extract(tags, ?) = ?")
      arguments.append("$.\"\(parts[0].replacingOccurrences(of: "\"", with: ""))\"")
      arguments.append(String(parts[1]))
    }
    if request.status != .unspecified {
      conditions.append("status = ?")
      arguments.append(request.status.rawValue)
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let bound = StatementArguments(arguments + [page.size, page.offset]) ?? []
    let countArguments = StatementArguments(arguments) ?? []
    let (rows, total) = try await self.store.read { db in
      (try ResourceRecord.fetchAll(db, sql: "SELECT * FROM resource \(whereClause) ORDER BY type, external_id LIMIT ? OFFSET ?", arguments: bound),
       try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resource \(whereClause)", arguments: countArguments) ?? 0)
    }
    return try .with {
      ($0.resources, $0.nextPageToken) = page.fit(try rows.map { try $0.proto() })
      $0.totalSize = Int64(total)
    }
  }

  func getResource(request: Fixpoint_V1_GetResourceRequest, context: ServerContext) async throws -> Fixpoint_V1_Resource {
    guard request.resourceID.isEmpty != request.externalID.isEmpty else {
      throw ServiceError.invalidArgument(field: "resource_id", reason: "give resource_id or external_id, not both")
    }
    guard request.resourceID.isEmpty else {
      try Validate.id(request.resourceID, field: "resource_id", prefix: "res")
      let row = try await self.store.read { db in
        try ResourceRecord.fetchOne(db, cachedSQL: "SELECT * FROM resource WHERE id = ?", arguments: [request.resourceID])
      }
      guard let row else { throw ServiceError.notFound(kind: "resource", id: request.resourceID) }
      return try row.proto()
    }
    try Validate.text(request.externalID, field: "external_id", max: 2048)
    if !request.providerID.isEmpty { try Validate.id(request.providerID, field: "provider_id", prefix: "prv") }
    // The ARN, else the cloud's own id (the ARN's last part: sg-…, i-…, a bucket) or name; within
    // one provider when named.
    let (name, provider) = (request.externalID, request.providerID)
    let rows = try await self.store.read { db in
      try ResourceRecord.fetchAll(
        db,
        sql: """
          SELECT * FROM resource WHERE (external_id = ? OR name = ?
            OR (substr(external_id, -length(?)) = ? AND substr(external_id, -length(?) - 1, 1) IN ('/', ':')))
          AND (? = '' OR provider_id = ?) ORDER BY status, id LIMIT 6
          """,
        arguments: [name, name, name, name, name, provider, provider])
    }
    let exact = rows.filter { $0.external_id == name }
    let matches = exact.isEmpty ? rows : exact
    guard let first = matches.first else { throw ServiceError.notFound(kind: "resource", id: String(name.prefix(100))) }
    guard matches.count == 1 else {
      throw ServiceError.failedPrecondition(
        "several resources are named '\(name.prefix(100))': \(matches.prefix(5).map { "\($0.id) (\($0.type), \($0.provider_id))" }.joined(separator: ", ")); give the id or provider_id")
    }
    return try first.proto()
  }

  func connectProvider(request: Fixpoint_V1_ConnectProviderRequest, context: ServerContext) async throws -> Fixpoint_V1_Provider {
    try await self.providers.connect(request)
  }

  func disconnectProvider(request: Fixpoint_V1_DisconnectProviderRequest, context: ServerContext) async throws -> Fixpoint_V1_Provider {
    try await self.providers.disconnect(request)
  }

  func syncProvider(request: Fixpoint_V1_SyncProviderRequest, context: ServerContext) async throws -> Fixpoint_V1_SyncJob {
    try await self.sync.start(request)
  }

  func getSyncJob(request: Fixpoint_V1_GetSyncJobRequest, context: ServerContext) async throws -> Fixpoint_V1_SyncJob {
    try Validate.id(request.jobID, field: "job_id", prefix: "job")
    guard let job = try await self.store.read({ db in try SyncEngine.job(request.jobID, in: db) }) else {
      throw ServiceError.notFound(kind: "sync job", id: request.jobID)
    }
    return job
  }

  func refreshResource(request: Fixpoint_V1_RefreshResourceRequest, context: ServerContext) async throws -> Fixpoint_V1_Resource {
    try await self.sync.refresh(request.resourceID).proto()
  }

  func listStackResources(request: Fixpoint_V1_ListStackResourcesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListStackResourcesResponse {
    try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
    try Validate.text(request.stack, field: "stack", max: 256)
    guard request.stack.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-:/".contains($0)) }) else {
      throw ServiceError.invalidArgument(field: "stack", reason: "a stack name or ARN has letters, digits, '-', ':' and '/' only")
    }
    let (record, account) = try await self.providers.account(request.providerID)
    let regions = record.regions.split(separator: ",").map(String.init)
    let region = request.region.isEmpty ? regions.first ?? "us-east-1" : request.region
    guard regions.contains(region) else {
      throw ServiceError.invalidArgument(field: "region", reason: "provider \(record.id) covers \(regions.joined(separator: ", ")), not '\(region.prefix(40))'")
    }
    do {
      let resources = try await CloudFormationStacks.resources(account, region: region, stack: request.stack)
      return .with {
        $0.resources = resources.map { r in
          .with {
            $0.logicalID = r.logicalID
            $0.physicalID = r.physicalID
            $0.type = r.type
            $0.status = r.status
          }
        }
      }
    } catch let error as AWSError where error.kind == .notFound || error.code == "ValidationError" {
      throw ServiceError.notFound(kind: "CloudFormation stack", id: "\(request.stack) in \(region)")
    } catch let error as AWSError {
      throw ServiceError.failedPrecondition("CloudFormation refused ListStackResources (\(error.code)): \(error.message)")
    }
  }

  func captureBaseline(request: Fixpoint_V1_CaptureBaselineRequest, context: ServerContext) async throws -> Fixpoint_V1_Baseline {
    try await self.changes.captureBaseline(request, by: try currentPrincipal().subject)
  }

  func listBaselines(request: Fixpoint_V1_ListBaselinesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListBaselinesResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    try Validate.id(request.resourceID, field: "resource_id", prefix: "res")
    let baselines = try await self.store.read { db in
      try Row.fetchAll(
        db, sql: "SELECT * FROM baseline WHERE resource_id = ? ORDER BY captured_at DESC, rowid DESC LIMIT ? OFFSET ?",
        arguments: [request.resourceID, page.size, page.offset]
      ).map(Baselines.proto)
    }
    return .with {
      ($0.baselines, $0.nextPageToken) = page.fit(baselines)
    }
  }

  func getBaseline(request: Fixpoint_V1_GetBaselineRequest, context: ServerContext) async throws -> Fixpoint_V1_Baseline {
    let baseline: Fixpoint_V1_Baseline?
    if !request.baselineID.isEmpty {
      try Validate.id(request.baselineID, field: "baseline_id", prefix: "bsl")
      baseline = try await self.store.read { db in
        try Row.fetchOne(db, sql: "SELECT * FROM baseline WHERE id = ?", arguments: [request.baselineID]).map(Baselines.proto)
      }
    } else {
      try Validate.id(request.resourceID, field: "resource_id", prefix: "res")
      baseline = try await self.store.read { db in
        try Row.fetchOne(
          db, sql: "SELECT * FROM baseline WHERE resource_id = ? ORDER BY captured_at DESC, rowid DESC LIMIT 1", arguments: [request.resourceID]
        ).map(Baselines.proto)
      }
    }
    guard let baseline else { throw ServiceError.notFound(kind: "baseline", id: request.baselineID.isEmpty ? "for \(request.resourceID)" : request.baselineID) }
    return baseline
  }

  func captureSnapshot(request: Fixpoint_V1_CaptureSnapshotRequest, context: ServerContext) async throws -> Fixpoint_V1_Snapshot {
    try await self.changes.captureSnapshot(request, by: try currentPrincipal().subject)
  }

  func getSnapshot(request: Fixpoint_V1_GetSnapshotRequest, context: ServerContext) async throws -> Fixpoint_V1_Snapshot {
    guard request.snapshotID.isEmpty != request.changeRequestID.isEmpty else {
      throw ServiceError.invalidArgument(field: "snapshot_id", reason: "give exactly one of snapshot_id and change_request_id")
    }
    if !request.changeRequestID.isEmpty {
      try Validate.text(request.changeRequestID, field: "change_request_id", max: 200)
      guard let snapshot = try await self.store.read({ db in try ChangeService.snapshot(changeRequestID: request.changeRequestID, in: db) }) else {
        throw ServiceError.notFound(kind: "snapshot of change request", id: request.changeRequestID)
      }
      return snapshot
    }
    try Validate.id(request.snapshotID, field: "snapshot_id", prefix: "snp")
    guard let snapshot = try await self.store.read({ db in try ChangeService.snapshot(request.snapshotID, in: db) }) else {
      throw ServiceError.notFound(kind: "snapshot", id: request.snapshotID)
    }
    return snapshot
  }

  func applyChange(request: Fixpoint_V1_ApplyChangeRequest, context: ServerContext) async throws -> Fixpoint_V1_ApplyChangeResponse {
    try await self.changes.applyChange(request, by: try currentPrincipal().subject)
  }

  func restoreSnapshot(request: Fixpoint_V1_RestoreSnapshotRequest, context: ServerContext) async throws -> Fixpoint_V1_ApplyChangeResponse {
    try await self.changes.restoreSnapshot(request)
  }
}
