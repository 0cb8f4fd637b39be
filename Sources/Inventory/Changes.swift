import CloudAWS
import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import SwiftProtobuf

/// Baselines: known-good configurations, a history per resource; the latest is the default.
enum Baselines {
  static func insert(_ r: ResourceRecord, by actor: String, reason: String, comment: String, in db: Database) throws {
    try db.execute(
      sql: """
        INSERT INTO baseline (id, resource_id, configuration, content_hash, captured_by, captured_at, reason, comment)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [RandomID.make(prefix: "bsl"), r.id, r.configuration, r.content_hash, actor, Date().timeIntervalSince1970, reason, comment])
  }

  static func proto(_ row: Row) throws -> Fixpoint_V1_Baseline {
    try .with { b in
      b.id = row["id"]
      b.resourceID = row["resource_id"]
      b.configuration = try Google_Protobuf_Struct(jsonString: row["configuration"])
      b.contentHash = row["content_hash"]
      b.captured = .with {
        $0.subject = row["captured_by"]
        $0.time = .init(date: Date(timeIntervalSince1970: row["captured_at"]))
      }
      b.reason = row["reason"]
    }
  }
}

extension JSONValue {
  /// Through JSON text: protobuf's Value and Struct have exactly JSON's shape.
  init(_ value: Google_Protobuf_Value) throws { self = try JSONValue.parse(Array(try value.jsonString().utf8)) }
  var protoValue: Google_Protobuf_Value { (try? Google_Protobuf_Value(jsonString: self.description)) ?? Google_Protobuf_Value() }
  var protoStruct: Google_Protobuf_Struct { (try? Google_Protobuf_Struct(jsonString: self.description)) ?? Google_Protobuf_Struct() }
}

/// Snapshots, changes and restores, always against a fresh read of the resource.
struct ChangeService: Sendable {
  let store: Store
  let providers: Providers
  let sync: SyncEngine

  /// `record`'s account and a fresh read of its resource; FAILED_PRECONDITION (and the record
  /// marked deleted) when the cloud no longer has it.
  func fresh(_ record: ResourceRecord) async throws -> (AWSAccount, CloudResource) {
    let (_, account, current) = try await self.sync.readNow(record)
    guard let current else {
      _ = try await self.sync.save(nil, for: record)
      throw ServiceError.failedPrecondition("resource \(record.id) (\(record.external_id)) no longer exists")
    }
    return (account, current)
  }

  /// The plan for `operations` on `document`; a refused path or value is INVALID_ARGUMENT.
  static func plan(_ type: any ResourceType, _ document: JSONValue, _ operations: [(DocumentPath, JSONValue)]) throws -> ChangePlanner.Plan {
    do {
      return try ChangePlanner.plan(type, current: document, operations: operations)
    } catch let error as ChangeError {
      throw ServiceError.invalidArgument(field: "change_set.operations[\(error.field)]", reason: error.reason)
    }
  }

  /// Parses paths into fields `type` can change; `field(i)` names the i-th in errors.
  static func paths(_ texts: [String], list: String, field: (Int) -> String, type: any ResourceType) throws -> [DocumentPath] {
    guard !texts.isEmpty, texts.count <= 100 else { throw ServiceError.invalidArgument(field: list, reason: "give 1–100 paths") }
    return try texts.enumerated().map { i, text in
      let path: DocumentPath
      do { path = try DocumentPath(text) } catch { throw ServiceError.invalidArgument(field: field(i), reason: "\(error)") }
      guard type.writers[path.unit] != nil else {
        throw ServiceError.invalidArgument(
          field: field(i), reason: "\(type.name) has no changeable field '\(path.unit)' (\(type.writers.keys.sorted().joined(separator: ", ")))")
      }
      return path
    }
  }

  func captureSnapshot(_ request: Fixpoint_V1_CaptureSnapshotRequest, by actor: String) async throws -> Fixpoint_V1_Snapshot {
    let record = try await SyncEngine.resource(request.resourceID, store: self.store)
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    let paths = try Self.paths(request.paths, list: "paths", field: { "paths[\($0)]" }, type: type)
    let (_, current) = try await self.fresh(record)
    let values = JSONValue.object(Dictionary(paths.map { ($0.description, current.configuration.value(at: $0)) }, uniquingKeysWith: { a, _ in a }))
    let id = RandomID.make(prefix: "snp")
    let writer = self.sync.writer
    return try await RequestLog.once(self.store, method: "CaptureSnapshot", request: request, requestID: request.requestID) { db in
      _ = try writer.upsert(current, providerID: record.provider_id, now: Date().timeIntervalSince1970, in: db)
      try db.execute(
        sql: "INSERT INTO snapshot (id, resource_id, paths, \"values\", document, captured_by, captured_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        arguments: [
          id, record.id, String(decoding: JSONValue.array(paths.map { .string($0.description) }).canonicalData, as: UTF8.self),
          values.description, current.configuration.description, actor, Date().timeIntervalSince1970,
        ])
      return try Self.snapshot(id, in: db)!
    }
  }

  static func snapshot(_ id: String, in db: Database) throws -> Fixpoint_V1_Snapshot? {
    guard let row = try Row.fetchOne(db, sql: "SELECT * FROM snapshot WHERE id = ?", arguments: [id]) else { return nil }
    let values = try JSONValue.parse(Array((row["values"] as String).utf8)).objectValue ?? [:]
    return .with { s in
      s.id = id
      s.resourceID = row["resource_id"]
      s.values = values.mapValues(\.protoValue)
      s.document = (try? JSONValue.parse(Array((row["document"] as String).utf8)))?.protoStruct ?? .init()
      s.captured = .with {
        $0.subject = row["captured_by"]
        $0.time = .init(date: Date(timeIntervalSince1970: row["captured_at"]))
      }
    }
  }

  func applyChange(_ request: Fixpoint_V1_ApplyChangeRequest) async throws -> Fixpoint_V1_ApplyChangeResponse {
    let set = request.changeSet
    guard !set.resource.resourceID.isEmpty else {
      throw ServiceError.invalidArgument(field: "change_set.resource.resource_id", reason: "is required")
    }
    let record = try await SyncEngine.resource(set.resource.resourceID, store: self.store)
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    let paths = try Self.paths(
      set.operations.map(\.path), list: "change_set.operations", field: { "change_set.operations[\($0)].path" }, type: type)
    let values = try set.operations.enumerated().map { i, op in
      guard op.hasValue else { throw ServiceError.invalidArgument(field: "change_set.operations[\(i)].value", reason: "is required (null to remove)") }
      return try JSONValue(op.value)
    }
    return try await self.change(request, operations: Array(zip(paths, values)), record: record, type: type, dryRun: request.dryRun,
                                 method: "ApplyChange", requestID: request.requestID)
  }

  func restoreSnapshot(_ request: Fixpoint_V1_RestoreSnapshotRequest) async throws -> Fixpoint_V1_ApplyChangeResponse {
    try Validate.id(request.snapshotID, field: "snapshot_id", prefix: "snp")
    guard let row = try await self.store.pool.read({ db in
      try Row.fetchOne(db, sql: "SELECT resource_id, paths, document FROM snapshot WHERE id = ?", arguments: [request.snapshotID])
    }) else { throw ServiceError.notFound(kind: "snapshot", id: request.snapshotID) }
    let record = try await SyncEngine.resource(row["resource_id"], store: self.store)
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    // Whole fields, not just the recorded paths: a field that was absent (no encryption, no
    // public access block) is restored as absent, and removed map entries (rules) come back.
    let paths = (try JSONValue.parse(Array((row["paths"] as String).utf8)).arrayValue ?? []).compactMap(\.stringValue)
    let document = try JSONValue.parse(Array((row["document"] as String).utf8))
    var units: [String] = []
    for text in paths { let unit = try DocumentPath(text).unit; if !units.contains(unit) { units.append(unit) } }
    let operations = units.map { unit in
      let path = DocumentPath(segments: [unit])
      return (path, document.value(at: path))
    }
    return try await self.change(request, operations: operations, record: record, type: type, dryRun: request.dryRun,
                                 method: "RestoreSnapshot", requestID: request.requestID)
  }

  /// Re-reads, plans (skipping operations already in place), and unless `dryRun` writes the
  /// changed fields, re-reads and records the result. A retry with the same request id returns
  /// the first answer; without one, a repeat finds everything in place and calls no write API.
  private func change(
    _ request: some SwiftProtobuf.Message, operations: [(DocumentPath, JSONValue)], record: ResourceRecord, type: any ResourceType,
    dryRun: Bool, method: String, requestID: String
  ) async throws -> Fixpoint_V1_ApplyChangeResponse {
    if !dryRun, let answered = try await RequestLog.previous(
      self.store, method: method, request: request, requestID: requestID, as: Fixpoint_V1_ApplyChangeResponse.self)
    {
      return answered
    }
    // Paths and values are checked against the stored document first, so bad input calls nothing.
    _ = try Self.plan(type, record.document, operations)
    let (account, current) = try await self.fresh(record)
    let plan = try Self.plan(type, current.configuration, operations)
    var response = Fixpoint_V1_ApplyChangeResponse()
    response.dryRun = dryRun
    if dryRun || plan.fields.isEmpty {
      response.diffs = plan.diffs.map { d in .with { $0.path = d.path.description; $0.before = d.before.protoValue; $0.after = d.after.protoValue } }
      if !dryRun {
        response.after = current.configuration.protoStruct
        response.resource = try record.proto()
      }
      return response
    }
    do {
      try await ChangePlanner.apply(plan, to: current, type: type, account: account)
    } catch let error as ChangeError {
      throw ServiceError.failedPrecondition("\(error.field): \(error.reason)")
    } catch let error as AWSError {
      throw ServiceError.failedPrecondition("AWS refused the change (\(error.operation): \(error.code)): \(error.message)")
    }
    let after = try await type.read(account, region: CloudResource.callRegion(record.region), externalID: record.external_id)
    guard let after else { throw ServiceError.failedPrecondition("resource \(record.id) disappeared during the change") }
    let (beforeDoc, afterDoc) = (type.comparable(current.configuration), type.comparable(after.configuration))
    response.diffs = operations.compactMap { path, _ in
      let before = beforeDoc.value(at: path)
      let now = afterDoc.value(at: path)
      return before == now ? nil : .with { $0.path = path.description; $0.before = before.protoValue; $0.after = now.protoValue }
    }
    response.after = after.configuration.protoStruct
    let writer = self.sync.writer
    let providerID = record.provider_id
    let stored = try await RequestLog.once(self.store, method: method, request: request, requestID: requestID) { [response] db in
      var response = response
      response.resource = try writer.upsert(after, providerID: providerID, now: Date().timeIntervalSince1970, in: db).1.proto()
      return response
    }
    return stored
  }

  func captureBaseline(_ request: Fixpoint_V1_CaptureBaselineRequest, by actor: String) async throws -> Fixpoint_V1_Baseline {
    try Validate.text(request.comment, field: "comment", max: 1000, required: false)
    switch (request.resourceID.isEmpty, request.providerID.isEmpty) {
    case (false, true):
      let record = try await SyncEngine.resource(request.resourceID, store: self.store)
      return try await RequestLog.once(self.store, method: "CaptureBaseline", request: request, requestID: request.requestID) { db in
        try Baselines.insert(record, by: actor, reason: "manual", comment: request.comment, in: db)
        return try Baselines.proto(try Row.fetchOne(db, sql: "SELECT * FROM baseline WHERE resource_id = ? ORDER BY captured_at DESC, rowid DESC LIMIT 1", arguments: [record.id])!)
      }
    case (true, false):
      try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
      // Every active resource of the provider; the answer summarizes (resource_id empty).
      return try await RequestLog.once(self.store, method: "CaptureBaseline", request: request, requestID: request.requestID) { db in
        let records = try ResourceRecord.fetchAll(
          db, sql: "SELECT * FROM resource WHERE provider_id = ? AND status = ?",
          arguments: [request.providerID, Fixpoint_V1_Resource.Status.active.rawValue])
        for r in records { try Baselines.insert(r, by: actor, reason: "manual", comment: request.comment, in: db) }
        return .with { b in
          b.reason = "manual"
          b.configuration = JSONValue.object(["provider_id": .string(request.providerID), "resources": .number(Double(records.count))]).protoStruct
          b.captured = .with { $0.subject = actor; $0.time = .init(date: Date()) }
        }
      }
    default:
      throw ServiceError.invalidArgument(field: "resource_id", reason: "give exactly one of resource_id and provider_id")
    }
  }
}
