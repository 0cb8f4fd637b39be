import CloudAWS
import FixpointCore
import FixpointProtocol
import FixpointDocuments
import Foundation
import GRDB
import Logging

/// Writes what the cloud says into the resource table: upserts with a content hash, deletions
/// kept as history, a `resource.changed` event for every created, changed or deleted resource
/// (in the same transaction), and a first baseline for every new resource.
struct ResourceWriter: Sendable {
  let outbox = Outbox(source: .inventory)

  enum Outcome { case created, updated, unchanged }

  static func hash(_ r: CloudResource) -> String {
    let canonical: JSONValue = [
      "configuration": r.configuration, "name": .string(r.name), "tags": .object(r.tags.mapValues(JSONValue.string)),
    ]
    return SigV4.hexSHA256(Array(canonical.canonicalData))
  }

  /// Inserts or updates `r`; returns what happened and the stored row.
  func upsert(_ r: CloudResource, providerID: String, now: Double, in db: Database) throws -> (Outcome, ResourceRecord) {
    let hash = Self.hash(r)
    let tags = String(decoding: JSONValue.object(r.tags.mapValues(JSONValue.string)).canonicalData, as: UTF8.self)
    let configuration = String(decoding: r.configuration.canonicalData, as: UTF8.self)
    let active = Fixpoint_V1_Resource.Status.active.rawValue
    if var existing = try ResourceRecord.fetchOne(
      db, cachedSQL: "SELECT * FROM resource WHERE provider_id = ? AND external_id = ?", arguments: [providerID, r.externalID])
    {
      if existing.content_hash == hash && existing.status == active {
        try db.execute(sql: "UPDATE resource SET last_seen_at = ? WHERE id = ?", arguments: [now, existing.id])
        existing.last_seen_at = now
        return (.unchanged, existing)
      }
      try db.execute(
        sql: """
          UPDATE resource SET type = ?, region = ?, name = ?, status = ?, tags = ?, configuration = ?, content_hash = ?, last_seen_at = ?
          WHERE id = ?
          """,
        arguments: [r.type, r.region, r.name, active, tags, configuration, hash, now, existing.id])
      let updated = try ResourceRecord.fetchOne(db, sql: "SELECT * FROM resource WHERE id = ?", arguments: [existing.id])!
      try self.event(updated, change: .updated, in: db)
      return (.updated, updated)
    }
    let record = ResourceRecord(
      id: RandomID.make(prefix: "res"), external_id: r.externalID, provider_id: providerID, type: r.type, region: r.region, name: r.name,
      status: active, tags: tags, configuration: configuration, content_hash: hash, first_seen_at: now, last_seen_at: now)
    try db.execute(
      sql: """
        INSERT INTO resource (id, external_id, provider_id, type, region, name, status, tags, configuration, content_hash, first_seen_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [record.id, record.external_id, providerID, record.type, record.region, record.name, active, tags, configuration, hash, now, now])
    try Baselines.insert(record, by: "inventory", reason: "first_discovery", comment: "", in: db)
    try self.event(record, change: .created, in: db)
    return (.created, record)
  }

  /// Marks `record` deleted (kept as history).
  func markDeleted(_ record: ResourceRecord, in db: Database) throws {
    try db.execute(
      sql: "UPDATE resource SET status = ? WHERE id = ?", arguments: [Fixpoint_V1_Resource.Status.deleted.rawValue, record.id])
    try self.event(record, change: .deleted, in: db)
  }

  /// `resource.changed` (or `type`: `baseline.captured` for a manual baseline, same payload).
  func event(_ r: ResourceRecord, change: Fixpoint_V1_ResourceChanged.Change, type: String = "resource.changed", in db: Database) throws {
    let event = self.outbox.makeEvent(type: type, subject: r.id, severity: .info) { e in
      e.resourceChanged = .with {
        $0.resource = r.ref
        $0.change = change
        $0.contentHash = r.content_hash
      }
    }
    try self.outbox.enqueue(event, in: db)
  }
}

extension ResourceRecord {
  var ref: Fixpoint_V1_ResourceRef {
    .with {
      $0.resourceID = self.id
      $0.externalID = self.external_id
      $0.type = self.type
      $0.providerID = self.provider_id
      $0.region = self.region
    }
  }

  var document: JSONValue { (try? JSONValue.parse(Array(self.configuration.utf8))) ?? [:] }

  /// The resource as inventory last recorded it.
  var cloudResource: CloudResource {
    let tags = (try? JSONDecoder().decode([String: String].self, from: Data(self.tags.utf8))) ?? [:]
    return CloudResource(
      type: self.type, externalID: self.external_id, name: self.name, region: self.region, tags: tags, configuration: self.document)
  }
}

/// Runs provider syncs: every (type, region) pair concurrently within the account's rate budget,
/// progress written to the job row as pairs finish, deletions only where discovery succeeded.
final class SyncEngine: Sendable {
  let store: Store
  let providers: Providers
  let writer = ResourceWriter()
  let batcher = ReadBatcher()
  let logger: Logger

  init(store: Store, providers: Providers, logger: Logger) {
    self.store = store
    self.providers = providers
    self.logger = logger
  }

  /// At start: a job left running by a previous process can never finish.
  func failInterruptedJobs() async throws {
    try await self.store.write { db in
      try db.execute(
        sql: "UPDATE sync_job SET state = ?, finished_at = ?, message = 'interrupted: the service stopped during the sync' WHERE state IN (?, ?)",
        arguments: [
          Fixpoint_V1_JobProgress.State.failed.rawValue, Date().timeIntervalSince1970,
          Fixpoint_V1_JobProgress.State.queued.rawValue, Fixpoint_V1_JobProgress.State.running.rawValue,
        ])
    }
  }

  func start(_ request: Fixpoint_V1_SyncProviderRequest) async throws -> Fixpoint_V1_SyncJob {
    try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
    for (i, t) in request.types.enumerated() where ResourceCatalog.byName[t] == nil {
      throw ServiceError.invalidArgument(field: "types[\(i)]", reason: "unknown type '\(t)'; known: \(ResourceCatalog.byName.keys.sorted().joined(separator: ", "))")
    }
    for (i, r) in request.regions.enumerated() where !AWSNames.isRegion(r) {
      throw ServiceError.invalidArgument(field: "regions[\(i)]", reason: "'\(r)' is not a region name")
    }
    let (provider, account) = try await self.providers.account(request.providerID)
    let providerRegions = provider.regions.split(separator: ",").map(String.init)
    if let outside = request.regions.first(where: { !providerRegions.contains($0) }) {
      throw ServiceError.invalidArgument(field: "regions", reason: "\(outside) is not one of the provider's regions (\(provider.regions))")
    }
    let regions = request.regions.isEmpty ? providerRegions : request.regions
    let types = request.types.isEmpty ? ResourceCatalog.all : request.types.compactMap { ResourceCatalog.byName[$0] }
    let jobID = RandomID.make(prefix: "job")
    let job = try await RequestLog.once(self.store, method: "SyncProvider", request: request, requestID: request.requestID) { db in
      try db.execute(
        sql: "INSERT INTO sync_job (id, provider_id, state, started_at) VALUES (?, ?, ?, ?)",
        arguments: [jobID, request.providerID, Fixpoint_V1_JobProgress.State.running.rawValue, Date().timeIntervalSince1970])
      return try Self.job(jobID, in: db)!
    }
    guard job.progress.jobID == jobID else { return job }  // a retried request: that sync is already under way
    Task {
      await self.run(jobID: jobID, providerID: request.providerID, account: account, types: types, regions: regions)
    }
    return job
  }

  private func run(jobID: String, providerID: String, account: AWSAccount, types: [any ResourceType], regions: [String]) async {
    var pairs: [(any ResourceType, String)] = []
    for type in types {
      switch type.scope {
      case .regional: pairs += regions.map { (type, $0) }
      case .global: pairs.append((type, regions[0]))
      }
    }
    var failures: [String] = []
    await withTaskGroup(of: String?.self) { group in
      var next = 0
      func launch() {
        guard next < pairs.count else { return }
        let (type, region) = pairs[next]
        next += 1
        group.addTask { await self.syncPair(jobID: jobID, providerID: providerID, account: account, type: type, region: region) }
      }
      for _ in 0..<max(1, self.providers.settings.syncConcurrency) { launch() }
      while let failure = await group.next() {
        if let failure { failures.append(failure) }
        launch()
      }
    }
    let state: Fixpoint_V1_JobProgress.State = failures.isEmpty ? .succeeded : .failed
    let message = failures.isEmpty ? "synced \(pairs.count) type/region pairs" : "\(failures.count) of \(pairs.count) pairs failed: " + failures.prefix(5).joined(separator: "; ")
    do {
      try await self.store.write { db in
        let now = Date().timeIntervalSince1970
        try db.execute(
          sql: "UPDATE sync_job SET state = ?, finished_at = ?, message = ? WHERE id = ?", arguments: [state.rawValue, now, message, jobID])
        try db.execute(sql: "UPDATE provider SET last_synced_at = ? WHERE id = ?", arguments: [now, providerID])
        let outbox = self.writer.outbox
        let event = outbox.makeEvent(type: "provider.synced", subject: providerID, severity: .info) { e in
          e.providerSynced = .with { $0.providerID = providerID; $0.jobID = jobID; $0.succeeded = state == .succeeded }
        }
        try outbox.enqueue(event, in: db)
      }
    } catch {
      self.logger.error("sync job could not be closed", metadata: ["job": "\(jobID)", "error": "\(error)"])
    }
    self.logger.info("sync finished", metadata: ["job": "\(jobID)", "provider": "\(providerID)", "state": "\(state)", "message": "\(message)"])
  }

  /// Discovers one type in one region and writes it; returns a failure description, or nil.
  private func syncPair(jobID: String, providerID: String, account: AWSAccount, type: any ResourceType, region: String) async -> String? {
    let found: [CloudResource]
    do {
      found = try await type.discover(account, region: region)
    } catch {
      self.logger.warning("discovery failed", metadata: ["type": "\(type.name)", "region": "\(region)", "error": "\(error)"])
      try? await self.bump(jobID, counter: "\(type.name).errors", by: 1) { _ in }
      return "\(type.name) in \(region): \(error)"
    }
    do {
      try await self.store.write { db in
        let now = Date().timeIntervalSince1970
        var counts = (created: 0, updated: 0, unchanged: 0, deleted: 0)
        var seen = Set<String>()
        for r in found {
          seen.insert(r.externalID)
          switch try self.writer.upsert(r, providerID: providerID, now: now, in: db).0 {
          case .created: counts.created += 1
          case .updated: counts.updated += 1
          case .unchanged: counts.unchanged += 1
          }
        }
        // Gone from the cloud: only within what this pair covers (a global type covers all regions).
        let scope = type.scope == .global ? "" : "AND region = ?"
        var arguments: [any DatabaseValueConvertible] = [providerID, type.name, Fixpoint_V1_Resource.Status.active.rawValue]
        if type.scope == .regional { arguments.append(region) }
        for record in try ResourceRecord.fetchAll(
          db, sql: "SELECT * FROM resource WHERE provider_id = ? AND type = ? AND status = ? \(scope)", arguments: StatementArguments(arguments)!)
        where !seen.contains(record.external_id) {
          try self.writer.markDeleted(record, in: db)
          counts.deleted += 1
        }
        try Self.bump(jobID, counter: type.name, by: found.count, in: db) { sql in
          sql += ", created = created + \(counts.created), updated = updated + \(counts.updated), "
            + "unchanged = unchanged + \(counts.unchanged), deleted = deleted + \(counts.deleted)"
        }
      }
    } catch {
      return "\(type.name) in \(region): \(error)"
    }
    return nil
  }

  private func bump(_ jobID: String, counter: String, by n: Int, extra: @escaping @Sendable (inout String) -> Void) async throws {
    try await self.store.write { db in try Self.bump(jobID, counter: counter, by: n, in: db, extra: extra) }
  }

  /// Adds `n` to the job's counter `counter` (resources seen per type).
  private static func bump(_ jobID: String, counter: String, by n: Int, in db: Database, extra: (inout String) -> Void) throws {
    let text = try String.fetchOne(db, sql: "SELECT counters FROM sync_job WHERE id = ?", arguments: [jobID]) ?? "{}"
    var counters = (try? JSONDecoder().decode([String: Int64].self, from: Data(text.utf8))) ?? [:]
    counters[counter, default: 0] += Int64(n)
    let encoded = String(decoding: try JSONEncoder().encode(counters), as: UTF8.self)
    var sql = "UPDATE sync_job SET counters = ?"
    extra(&sql)
    try db.execute(sql: sql + " WHERE id = ?", arguments: [encoded, jobID])
  }

  static func job(_ id: String, in db: Database) throws -> Fixpoint_V1_SyncJob? {
    guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sync_job WHERE id = ?", arguments: [id]) else { return nil }
    let counters = (try? JSONDecoder().decode([String: Int64].self, from: Data((row["counters"] as String).utf8))) ?? [:]
    return .with { j in
      j.providerID = row["provider_id"]
      j.created = row["created"]
      j.updated = row["updated"]
      j.deleted = row["deleted"]
      j.unchanged = row["unchanged"]
      j.progress = .with { p in
        p.jobID = id
        p.state = Fixpoint_V1_JobProgress.State(rawValue: row["state"]) ?? .unspecified
        p.startedAt = .init(date: Date(timeIntervalSince1970: row["started_at"]))
        if let finished = row["finished_at"] as Double? { p.finishedAt = .init(date: Date(timeIntervalSince1970: finished)) }
        p.counters = counters
        p.message = row["message"]
      }
    }
  }

  /// The resource `record` describes, read from the cloud now — only `fields` when given, over
  /// the stored document: its type, its account, and what the cloud says (nil when it no longer
  /// has it).
  func readNow(_ record: ResourceRecord, fields: Set<String>? = nil) async throws -> (any ResourceType, AWSAccount, CloudResource?) {
    guard let type = ResourceCatalog.byName[record.type] else { throw ServiceError.failedPrecondition("unknown type \(record.type)") }
    let (_, account) = try await self.providers.account(record.provider_id)
    do {
      if let fields {
        return (type, account, try await self.read(record.cloudResource, fields: fields, type: type, account: account, providerID: record.provider_id))
      }
      return (type, account, try await type.read(account, region: CloudResource.callRegion(record.region), externalID: record.external_id))
    } catch let error as AWSError {
      throw ServiceError.failedPrecondition("reading \(record.external_id) from AWS failed: \(error)")
    }
  }

  /// `stored`'s resource read fresh (`fields` of it, over the rest), sharing describe calls with
  /// concurrent reads of the same type where the type allows (ReadBatcher); nil when it is gone.
  func read(_ stored: CloudResource, fields: Set<String>, type: any ResourceType, account: AWSAccount, providerID: String) async throws -> CloudResource? {
    if let batchable = type as? any BatchReadable {
      return try await self.batcher.read(stored, fields: fields, type: batchable, account: account, providerID: providerID)
    }
    return try await type.read(account, stored: stored, fields: fields)
  }

  /// Records a fresh read of `record`'s resource: an upsert, or `deleted` when it is gone.
  func save(_ fresh: CloudResource?, for record: ResourceRecord) async throws -> ResourceRecord {
    try await self.store.write { db in
      guard let fresh else {
        if record.status == Fixpoint_V1_Resource.Status.active.rawValue { try self.writer.markDeleted(record, in: db) }
        return try ResourceRecord.fetchOne(db, sql: "SELECT * FROM resource WHERE id = ?", arguments: [record.id])!
      }
      return try self.writer.upsert(fresh, providerID: record.provider_id, now: Date().timeIntervalSince1970, in: db).1
    }
  }

  /// Re-reads one resource now; a resource the cloud no longer has is marked deleted.
  func refresh(_ resourceID: String) async throws -> ResourceRecord {
    let record = try await Self.resource(resourceID, store: self.store)
    return try await self.save(try await self.readNow(record).2, for: record)
  }

  static func resource(_ id: String, store: Store) async throws -> ResourceRecord {
    try Validate.id(id, field: "resource_id", prefix: "res")
    guard let record = try await store.read({ db in try ResourceRecord.fetchOne(db, sql: "SELECT * FROM resource WHERE id = ?", arguments: [id]) })
    else { throw ServiceError.notFound(kind: "resource", id: id) }
    return record
  }
}
