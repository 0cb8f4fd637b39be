import CloudAWS
import FixpointCore
import FixpointProtocol
import FixpointDocuments
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

/// Snapshots, changes and restores, always against a fresh read of the resource.
struct ChangeService: Sendable {
  let store: Store
  let providers: Providers
  let sync: SyncEngine
  /// One execution at a time per request id: a caller that repeats a change while the first call
  /// is still running here (its connection dropped, it restarted) waits for that call and gets its
  /// answer, instead of reading, planning and writing a second time beside it.
  let inFlight = KeyedSemaphore()
  /// The turns of changes that carry a write limit (ApplyChangeRequest.write_limit_key).
  let writeTurns = KeyedSemaphore()
  /// How old a change's fresh read may be when its write starts, after waiting for its turn.
  static let maxReadAge: Duration = .seconds(2)

  /// At most `limit` changes with the same `key` write at a time.
  struct WriteLimit: Sendable {
    let key: String
    let limit: Int
  }

  /// `record`'s account and a fresh read of `fields` of its resource (over the stored document);
  /// FAILED_PRECONDITION (and the record marked deleted) when the cloud no longer has it.
  func fresh(_ record: ResourceRecord, fields: Set<String>) async throws -> (AWSAccount, CloudResource) {
    let (_, account, current) = try await self.sync.readNow(record, fields: fields)
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
    let (_, current) = try await self.fresh(record, fields: Set(paths.map(\.unit)))
    let writer = self.sync.writer
    return try await RequestLog.once(self.store, method: "CaptureSnapshot", request: request, requestID: request.requestID) { db in
      _ = try writer.upsert(current, providerID: record.provider_id, now: Date().timeIntervalSince1970, in: db)
      let id = try Self.insertSnapshot(of: current, record: record, paths: paths, by: actor, changeRequestID: nil, in: db)
      return try Self.snapshot(id, in: db)!
    }
  }

  /// Stores `current` as a snapshot of `paths`; returns its id.
  static func insertSnapshot(
    of current: CloudResource, record: ResourceRecord, paths: [DocumentPath], by actor: String, changeRequestID: String?, in db: Database
  ) throws -> String {
    let id = RandomID.make(prefix: "snp")
    let values = JSONValue.object(Dictionary(paths.map { ($0.description, current.configuration.value(at: $0)) }, uniquingKeysWith: { a, _ in a }))
    try db.execute(
      sql: """
        INSERT INTO snapshot (id, resource_id, paths, "values", document, captured_by, captured_at, change_request_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        id, record.id, String(decoding: JSONValue.array(paths.map { .string($0.description) }).canonicalData, as: UTF8.self),
        values.description, current.configuration.description, actor, Date().timeIntervalSince1970, changeRequestID,
      ])
    return id
  }

  /// The snapshot the ApplyChange with `requestID` took, if any.
  static func snapshot(changeRequestID requestID: String, in db: Database) throws -> Fixpoint_V1_Snapshot? {
    guard let id = try String.fetchOne(db, sql: "SELECT id FROM snapshot WHERE change_request_id = ?", arguments: [requestID]) else { return nil }
    return try Self.snapshot(id, in: db)
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

  func applyChange(_ request: Fixpoint_V1_ApplyChangeRequest, by actor: String) async throws -> Fixpoint_V1_ApplyChangeResponse {
    let set = request.changeSet
    guard !set.resource.resourceID.isEmpty else {
      throw ServiceError.invalidArgument(field: "change_set.resource.resource_id", reason: "is required")
    }
    if request.fromRecord && !request.dryRun {
      throw ServiceError.invalidArgument(field: "from_record", reason: "only with dry_run: a change is always planned on a fresh read")
    }
    if request.snapshot && (request.dryRun || request.requestID.isEmpty) {
      throw ServiceError.invalidArgument(field: "snapshot", reason: "needs a request_id, and no dry_run")
    }
    var sink: AccessKeySink?
    if !request.newAccessKeySink.isEmpty {
      do { sink = try AccessKeySink(request.newAccessKeySink) } catch { throw ServiceError.invalidArgument(field: error.field, reason: error.reason) }
      guard request.snapshot else { throw ServiceError.invalidArgument(field: "new_access_key_sink", reason: "needs snapshot (the rotation is resumed from it)") }
    }
    let record = try await SyncEngine.resource(set.resource.resourceID, store: self.store)
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    if sink != nil, !(type is IAMUser) {
      throw ServiceError.invalidArgument(field: "new_access_key_sink", reason: "only for iam_user resources, not \(record.type)")
    }
    let paths = try Self.paths(
      set.operations.map(\.path), list: "change_set.operations", field: { "change_set.operations[\($0)].path" }, type: type)
    let values = try set.operations.enumerated().map { i, op in
      guard op.hasValue else { throw ServiceError.invalidArgument(field: "change_set.operations[\(i)].value", reason: "is required (null to remove)") }
      return try JSONValue(op.value)
    }
    let operations = Array(zip(paths, values))
    if request.fromRecord {
      return try .with { r in
        r.dryRun = true
        r.diffs = Self.proto(try Self.plan(type, record.document, operations).diffs)
      }
    }
    // The write limit schedules the change; it is not part of what is asked for: a dispatcher
    // resuming with another tier concurrency repeats the same request.
    var identity = request
    (identity.writeLimitKey, identity.writeLimit) = ("", 0)
    return try await self.change(
      identity, operations: operations, record: record, type: type, dryRun: request.dryRun, method: "ApplyChange", requestID: request.requestID,
      snapshotBy: request.snapshot ? actor : nil, newAccessKeySink: sink, writeLimit: try Self.writeLimit(request))
  }

  func restoreSnapshot(_ request: Fixpoint_V1_RestoreSnapshotRequest) async throws -> Fixpoint_V1_ApplyChangeResponse {
    try Validate.id(request.snapshotID, field: "snapshot_id", prefix: "snp")
    guard let row = try await self.store.read({ db in
      try Row.fetchOne(db, sql: "SELECT resource_id, paths, document FROM snapshot WHERE id = ?", arguments: [request.snapshotID])
        .map { row -> (resourceID: String, paths: String, document: String) in (row["resource_id"], row["paths"], row["document"]) }
    }) else { throw ServiceError.notFound(kind: "snapshot", id: request.snapshotID) }
    let record = try await SyncEngine.resource(row.resourceID, store: self.store)
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    let paths = try (try JSONValue.parse(Array(row.paths.utf8)).arrayValue ?? []).compactMap(\.stringValue).map { try DocumentPath($0) }
    let document = try JSONValue.parse(Array(row.document.utf8))
    let operations = Self.restoration(of: paths, from: document).map { ($0, document.value(at: $0)) }
    return try await self.change(request, operations: operations, record: record, type: type, dryRun: request.dryRun,
                                 method: "RestoreSnapshot", requestID: request.requestID, snapshotBy: nil, newAccessKeySink: nil)
  }

  /// What restoring `paths` from a snapshot `document` writes: each path, or its highest ancestor
  /// that was absent — an absent public access block comes back absent (deleted), not as a
  /// block of false flags — and nothing twice. A removed map entry (a rule) is set back.
  static func restoration(of paths: [DocumentPath], from document: JSONValue) -> [DocumentPath] {
    var targets: [DocumentPath] = []
    for path in paths {
      let absent = (1...path.segments.count).lazy.map { DocumentPath(segments: Array(path.segments.prefix($0))) }.first { document.value(at: $0) == .null }
      let target = absent ?? path
      if !targets.contains(target) { targets.append(target) }
    }
    return targets.filter { t in
      !targets.contains { o in o.segments.count < t.segments.count && Array(t.segments.prefix(o.segments.count)) == o.segments }
    }
  }

  static func proto(_ diffs: [PlannedDiff]) -> [Fixpoint_V1_PathDiff] {
    diffs.map { d in .with { $0.path = d.path.description; $0.before = d.before.protoValue; $0.after = d.after.protoValue } }
  }

  /// Re-reads the fields the operations touch, plans (skipping operations already in place), and
  /// unless `dryRun` writes the changed fields, re-reads them and records the result. With
  /// `snapshotBy`, a snapshot of the fresh read is stored before anything is written — once per
  /// request id: a retry (say after a crash mid-change) reuses it, and its diff is against it.
  /// A retry of a finished request returns the first answer; without a request id, a repeat finds
  /// everything in place and calls no write API. With `newAccessKeySink`, a new access key is
  /// made and delivered there after the snapshot and before the writes (IAMUser.rotateAccessKey).
  private func change(
    _ request: some SwiftProtobuf.Message, operations: [(DocumentPath, JSONValue)], record: ResourceRecord, type: any ResourceType,
    dryRun: Bool, method: String, requestID: String, snapshotBy actor: String?, newAccessKeySink sink: AccessKeySink?, writeLimit: WriteLimit? = nil
  ) async throws -> Fixpoint_V1_ApplyChangeResponse {
    guard !dryRun, !requestID.isEmpty else {
      return try await self.changeOnce(request, operations: operations, record: record, type: type, dryRun: dryRun, method: method,
                                       requestID: requestID, snapshotBy: actor, newAccessKeySink: sink, writeLimit: writeLimit)
    }
    return try await self.inFlight.run("\(method)/\(requestID)") {
      try await self.changeOnce(request, operations: operations, record: record, type: type, dryRun: dryRun, method: method,
                                requestID: requestID, snapshotBy: actor, newAccessKeySink: sink, writeLimit: writeLimit)
    }
  }

  /// The request's write limit: both fields or neither.
  static func writeLimit(_ request: Fixpoint_V1_ApplyChangeRequest) throws -> WriteLimit? {
    if request.writeLimitKey.isEmpty && request.writeLimit == 0 { return nil }
    guard !request.writeLimitKey.isEmpty, (1...1000).contains(request.writeLimit) else {
      throw ServiceError.invalidArgument(field: "write_limit", reason: "must be 1-1000 together with a write_limit_key, or both left out")
    }
    try Validate.text(request.writeLimitKey, field: "write_limit_key", max: 100)
    return WriteLimit(key: request.writeLimitKey, limit: Int(request.writeLimit))
  }

  private func changeOnce(
    _ request: some SwiftProtobuf.Message, operations: [(DocumentPath, JSONValue)], record: ResourceRecord, type: any ResourceType,
    dryRun: Bool, method: String, requestID: String, snapshotBy actor: String?, newAccessKeySink sink: AccessKeySink?, writeLimit: WriteLimit?
  ) async throws -> Fixpoint_V1_ApplyChangeResponse {
    if !dryRun, let answered = try await RequestLog.previous(
      self.store, method: method, request: request, requestID: requestID, as: Fixpoint_V1_ApplyChangeResponse.self)
    {
      return answered
    }
    // Paths and values are checked against the stored document first, so bad input calls nothing.
    _ = try Self.plan(type, record.document, operations)
    let fields = Set(operations.map(\.0.unit))
    let readFresh = { () async throws -> (AWSAccount, CloudResource, ChangePlanner.Plan, ContinuousClock.Instant) in
      let (account, current) = try await self.fresh(record, fields: fields)
      // Never write a field whose current value is unknown: the snapshot could not restore it.
      for field in fields.sorted() {
        if let why = Unreadable.reason(current.configuration, field: field) {
          throw ServiceError.failedPrecondition("\(record.type) \(record.name): \(field) cannot be read (\(why)); nothing was changed")
        }
      }
      return (account, current, try Self.plan(type, current.configuration, operations), .now)
    }
    var (account, current, plan, readAt) = try await readFresh()
    var response = Fixpoint_V1_ApplyChangeResponse()
    response.dryRun = dryRun
    if dryRun {
      response.diffs = Self.proto(plan.diffs)
      response.after = current.configuration.protoStruct  // the fresh read, for verification
      return response
    }
    let writer = self.sync.writer
    var before = current.configuration
    var resumed = false
    // A resumed rotation repeats (idempotently) to report its key, even when the writes are done.
    var rotate = false
    // The write, under its limit when it has one: a turn that comes long after the read reads
    // again, so the snapshot and the plan are never older than `maxReadAge` when the write starts.
    let limit = writeLimit.flatMap { !plan.fields.isEmpty || sink != nil ? $0 : nil }
    func snapshotAndWrite() async throws {
      if limit != nil, readAt.duration(to: .now) > Self.maxReadAge { (account, current, plan, readAt) = try await readFresh() }
      before = current.configuration
      if let actor {
        let paths = operations.map(\.0)
        let (id, earlier) = try await self.store.write { [current] db -> (String, JSONValue?) in
          if let row = try Row.fetchOne(db, sql: "SELECT id, document FROM snapshot WHERE change_request_id = ?", arguments: [requestID]) {
            return (row["id"], try JSONValue.parse(Array((row["document"] as String).utf8)))
          }
          _ = try writer.upsert(current, providerID: record.provider_id, now: Date().timeIntervalSince1970, in: db)
          return (try Self.insertSnapshot(of: current, record: record, paths: paths, by: actor, changeRequestID: requestID, in: db), nil)
        }
        response.snapshotID = id
        if let earlier { (before, resumed) = (earlier, true) }
      }
      rotate = sink != nil && (!plan.fields.isEmpty || resumed)
      guard !plan.fields.isEmpty || rotate else { return }
      // Writes run as the provider's change role (when it has one); reads stay with the read role.
      let (_, changer) = try await self.providers.account(record.provider_id, for: .change)
      do {
        if let sink, rotate {
          let keysBefore = Set((before["access_keys"]?.objectValue ?? [:]).keys)
          let token = SigV4.hexSHA256(Array("\(method)/\(requestID)".utf8))
          response.newAccessKeyID = try await IAMUser.rotateAccessKey(changer, user: record.name, keysBefore: keysBefore, sink: sink, token: token)
        }
        try await ChangePlanner.apply(plan, to: current, type: type, account: changer)
      } catch let error as ChangeError {
        throw ServiceError.failedPrecondition("\(error.field): \(error.reason)")
      } catch let error as AWSError {
        throw ServiceError.failedPrecondition("AWS refused the change (\(error.operation): \(error.code)): \(error.message)")
      }
    }
    if let limit { try await self.writeTurns.run(limit.key, limit: limit.limit, snapshotAndWrite) } else { try await snapshotAndWrite() }
    var after = current
    if !plan.fields.isEmpty || rotate {
      let reread = rotate ? fields : Set(plan.fields.keys)
      guard let read = try await self.sync.read(current, fields: reread, type: type, account: account, providerID: record.provider_id) else {
        throw ServiceError.failedPrecondition("resource \(record.id) disappeared during the change")
      }
      after = read
    }
    let (beforeDoc, afterDoc) = (type.comparable(before), type.comparable(after.configuration))
    response.diffs = operations.compactMap { path, _ in
      let was = beforeDoc.value(at: path).withoutNulls
      let now = afterDoc.value(at: path).withoutNulls
      return was == now ? nil : .with { $0.path = path.description; $0.before = was.protoValue; $0.after = now.protoValue }
    }
    response.after = after.configuration.protoStruct
    let providerID = record.provider_id
    let changed = !plan.fields.isEmpty
    return try await RequestLog.once(self.store, method: method, request: request, requestID: requestID) { [response, after] db in
      var response = response
      let stored = try writer.upsert(after, providerID: providerID, now: Date().timeIntervalSince1970, in: db).1
      // A change made through this change model (a fix, a restore) is the intended state: it
      // becomes the resource's baseline, so drift reports changes made behind Fixpoint's back,
      // not Fixpoint's own, and a drift the change undid resolves.
      if changed { try Baselines.insert(stored, by: actor ?? "inventory", reason: "change", comment: "\(method) \(requestID)", in: db) }
      response.resource = try stored.proto()
      return response
    }
  }

  func captureBaseline(_ request: Fixpoint_V1_CaptureBaselineRequest, by actor: String) async throws -> Fixpoint_V1_Baseline {
    try Validate.text(request.comment, field: "comment", max: 1000, required: false)
    switch (request.resourceID.isEmpty, request.providerID.isEmpty) {
    case (false, true):
      let record = try await SyncEngine.resource(request.resourceID, store: self.store)
      return try await RequestLog.once(self.store, method: "CaptureBaseline", request: request, requestID: request.requestID) { db in
        try Baselines.insert(record, by: actor, reason: "manual", comment: request.comment, in: db)
        try self.sync.writer.event(record, change: .updated, type: "baseline.captured", in: db)
        return try Baselines.proto(try Row.fetchOne(db, sql: "SELECT * FROM baseline WHERE resource_id = ? ORDER BY captured_at DESC, rowid DESC LIMIT 1", arguments: [record.id])!)
      }
    case (true, false):
      try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
      // Every active resource of the provider; the answer summarizes (resource_id empty).
      return try await RequestLog.once(self.store, method: "CaptureBaseline", request: request, requestID: request.requestID) { db in
        let records = try ResourceRecord.fetchAll(
          db, sql: "SELECT * FROM resource WHERE provider_id = ? AND status = ?",
          arguments: [request.providerID, Fixpoint_V1_Resource.Status.active.rawValue])
        for r in records {
          try Baselines.insert(r, by: actor, reason: "manual", comment: request.comment, in: db)
          try self.sync.writer.event(r, change: .updated, type: "baseline.captured", in: db)
        }
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
