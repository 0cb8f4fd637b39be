import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle
import Synchronization

/// Baseline drift: each resource's live document (inventory's) against its latest baseline
/// (inventory's, over gRPC), classified by the control catalogue (`DriftClass`).
///
/// Work arrives two ways and is done by one runner, a `Service` in the group, one job at a time:
/// a queued scan (`RunScan`: everything, a provider, or one resource, which inventory reads again
/// first) and inventory's `resource.changed` events, which wait in `pending_resource` (recorded in
/// the inbox's transaction, so nothing is lost on a crash; several events for one resource are one
/// comparison) and are compared in batches as one job run triggered by "resource.changed".
///
/// A resource has at most one open baseline drift (`open_key`): a further change updates it and
/// adds to its history; the live state returning to the baseline, or a new baseline that equals
/// the live state, resolves it; so does the resource's deletion. Each new or changed drift emits
/// `drift.detected`, each resolution `drift.resolved`, in the transaction that records it.
final class Scanner: Sendable {
  let store: Store
  let inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>
  let outbox = Outbox(source: .drift)
  let logger: Logger
  let pageSize: Int
  let overrides: ParameterOverrides
  let definitions: IaCDefinitions
  /// For the compliance_check schedule.
  let compliance: Fixpoint_V1_ComplianceService.Client<HTTP2ClientTransport.Posix>?
  let schedules: Schedules?
  /// When comparing changed resources may be tried again after a failure.
  private let pendingRetryAt = Mutex<Double>(0)
  static let source = "baseline"
  static let actor = Principal(subject: "drift", role: .service)

  init(
    store: Store, inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>, logger: Logger, pageSize: Int = 500,
    overrides: ParameterOverrides = ParameterOverrides(),
    compliance: Fixpoint_V1_ComplianceService.Client<HTTP2ClientTransport.Posix>? = nil, schedules: Schedules? = nil
  ) {
    self.compliance = compliance
    self.schedules = schedules
    self.store = store
    self.inventory = inventory
    self.logger = logger
    self.pageSize = pageSize
    self.overrides = overrides
    self.definitions = IaCDefinitions(store: store, inventory: inventory)
  }

  enum State: Int {
    case queued = 1, running = 2, succeeded = 3, failed = 4
  }

  // MARK: Queueing

  /// Queues a scan. Validates first; stores nothing on bad input.
  func enqueue(_ request: Fixpoint_V1_RunScanRequest, by actor: Principal) async throws -> Fixpoint_V1_JobRun {
    let scope: JSONValue
    switch request.scope {
    case .providerID(let id):
      try Validate.id(id, field: "provider_id", prefix: "prv")
      scope = ["provider_id": .string(id)]
    case .resourceID(let id):
      try Validate.id(id, field: "resource_id", prefix: "res")
      scope = ["resource_id": .string(id), "refresh": true]
    case .all(true): scope = ["all": true]
    case .definition(let reference):
      let definition = try await self.store.read { db in try IaCDefinitions.find(reference, in: db) }
      guard definition.format != Fixpoint_V1_IaCDefinition.Format.kubernetes.rawValue else {
        throw ServiceError.failedPrecondition(
          "\(definition.name) holds Kubernetes manifests: drift against a live cluster needs a Kubernetes provider in inventory, which is not built yet")
      }
      scope = ["definition_id": .string(definition.id), "definition": .string(definition.name)]
    case .all(false), nil:
      throw ServiceError.invalidArgument(field: "scope", reason: "give all = true, a provider_id, a resource_id or a definition")
    }
    let record = Self.queued(trigger: "scan", scope: scope, by: actor.subject)
    let stored = try await RequestLog.once(self.store, method: "RunScan", request: request, requestID: request.requestID) { db in
      try record.insert(db)
      return record.proto
    }
    return try await self.store.read { db in try JobRunRecord.fetchOne(db, key: stored.id)!.proto }
  }

  static func queued(trigger: String, scope: JSONValue, by subject: String) -> JobRunRecord {
    JobRunRecord(
      id: RandomID.make(prefix: "job"), trigger: trigger, state: State.queued.rawValue, started_at: Date().timeIntervalSince1970,
      finished_at: nil, drifts_found: 0, error: nil, scope: scope.description, requested_by: subject, resources_seen: 0, message: "queued")
  }

  /// inventory's `resource.changed` and `baseline.captured` (in the inbox's transaction): a
  /// changed or deleted resource, or one with a new baseline, waits to be compared. A created one
  /// has nothing to drift from: its first baseline is itself.
  static func afterChange(_ event: Fixpoint_V1_Event, in db: Database) throws {
    guard ["resource.changed", "baseline.captured"].contains(event.type),
      case .resourceChanged(let changed) = event.payload, changed.change == .updated || changed.change == .deleted,
      !changed.resource.resourceID.isEmpty
    else { return }
    try db.execute(
      sql: """
        INSERT INTO pending_resource (resource_id, deleted, event_id, queued_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (resource_id) DO UPDATE SET deleted = excluded.deleted, event_id = excluded.event_id
        """,
      arguments: [changed.resource.resourceID, changed.change == .deleted, event.id, Date().timeIntervalSince1970])
  }

  // MARK: The runner

  func runQueue() async {
    await JobQueue.run(
      "scan", logger: self.logger,
      recover: {
        try await self.store.write { db in
          try db.execute(
            sql: "UPDATE job_run SET state = ?, message = 'restarted after an interruption' WHERE state = ?",
            arguments: [State.queued.rawValue, State.running.rawValue])
        }
      },
      next: {
        try await self.store.read { db in
          try JobRunRecord.fetchOne(db, sql: "SELECT * FROM job_run WHERE state = ? ORDER BY started_at, rowid LIMIT 1", arguments: [State.queued.rawValue])
        }
      },
      execute: { await self.execute($0) },
      idle: { try await self.drainPending() })
  }

  /// The resources resource.changed named, as one job run; a pending row is removed only with its
  /// comparison's result (or kept when the event that queued it was replaced meanwhile).
  private func drainPending() async throws {
    let pending = try await self.store.read { db in
      try Row.fetchAll(db, sql: "SELECT resource_id, deleted, event_id FROM pending_resource ORDER BY queued_at LIMIT ?", arguments: [self.pageSize])
        .map { row -> (resourceID: String, deleted: Bool, eventID: String) in (row["resource_id"], row["deleted"], row["event_id"]) }
    }
    guard !pending.isEmpty, Date().timeIntervalSince1970 >= self.pendingRetryAt.withLock({ $0 }) else { return }
    var job = Self.queued(trigger: "resource.changed", scope: ["resources": .number(Double(pending.count))], by: Self.actor.subject)
    job.state = State.running.rawValue
    job.message = "comparing \(pending.count) changed resources"
    try await self.store.write { [job] db in try job.insert(db) }
    var found: Int64 = 0
    do {
      for (resourceID, deleted, eventID) in pending {
        let outcome: Outcome
        if deleted {
          outcome = try await self.record(resourceID: resourceID, gone: "the resource was deleted")
        } else {
          do {
            let resource = try await self.inventory.getResource(.with { $0.resourceID = resourceID })
            outcome = resource.status == .active ? try await self.compare(resource) : try await self.record(resourceID: resourceID, gone: "the resource is no longer active")
          } catch let error as RPCError where error.code == .notFound {
            outcome = try await self.record(resourceID: resourceID, gone: "the resource is no longer in inventory")
          }
        }
        if outcome == .detected { found += 1 }
        try await self.store.write { db in
          try db.execute(sql: "DELETE FROM pending_resource WHERE resource_id = ? AND event_id = ?", arguments: [resourceID, eventID])
        }
      }
      try await self.finish(job.id, state: .succeeded, seen: pending.count, found: found, message: "done")
    } catch {
      // Left pending; tried again in 10 s, not at every idle turn (inventory may be down).
      self.pendingRetryAt.withLock { $0 = Date().timeIntervalSince1970 + 10 }
      self.logger.warning("comparing changed resources failed; retrying in 10 s", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
      try await self.finish(job.id, state: .failed, seen: pending.count, found: found, message: "failed", error: "\(error)")
    }
  }

  /// Stops a scan at a page boundary on SIGTERM; it stays running and starts over next time.
  struct ShuttingDown: Error {}

  private func execute(_ job: JobRunRecord) async {
    let scope = job.scopeDocument
    var seen = 0
    var found: Int64 = 0
    do {
      try await self.store.write { db in
        try db.execute(
          sql: "UPDATE job_run SET state = ?, started_at = ?, resources_seen = 0, drifts_found = 0, message = 'reading inventory' WHERE id = ?",
          arguments: [State.running.rawValue, Date().timeIntervalSince1970, job.id])
      }
      if let definitionID = scope["definition_id"]?.stringValue {
        (seen, found) = try await self.definitions.compare(definitionID, job: job.id, scanner: self) { seen, message in
          try await self.progress(job.id, seen: seen, found: 0, message: message)
        }
      } else if let resourceID = scope["resource_id"]?.stringValue {
        let resource =
          scope["refresh"]?.boolValue == true
          ? try await self.inventory.refreshResource(.with { $0.requestID = "\(job.id)-refresh"; $0.resourceID = resourceID })
          : try await self.inventory.getResource(.with { $0.resourceID = resourceID })
        let outcome = resource.status == .active ? try await self.compare(resource) : try await self.record(resourceID: resourceID, gone: "the resource is no longer active")
        (seen, found) = (1, outcome == .detected ? 1 : 0)
      } else if let schedule = scope["schedule"]?.stringValue {
        var message = "done"
        switch schedule {
        case "drift_detection":
          (seen, found, message) = try await Schedules.driftDetection(self, job: job.id)
        case "resource_sync":
          (seen, message) = try await Schedules.resourceSync(self.inventory, job: job.id)
        case "compliance_check":
          guard let compliance = self.compliance, let schedules = self.schedules else { throw ScheduleFailure(message: "no compliance client") }
          message = try await schedules.complianceCheck(compliance, job: job.id)
        default:
          throw ScheduleFailure(message: "unknown schedule \(schedule)")
        }
        try await self.finish(job.id, state: .succeeded, seen: seen, found: found, message: String(message.prefix(2000)))
        self.logger.info("scheduled job finished", metadata: ["job.id": "\(job.id)", "schedule": "\(schedule)", "message": "\(message.prefix(500))"])
        return
      } else {
        (seen, found) = try await self.scanResources(job: job.id, providerID: scope["provider_id"]?.stringValue ?? "")
      }
      try await self.finish(job.id, state: .succeeded, seen: seen, found: found, message: "done")
      self.logger.info("drift scan finished", metadata: ["job.id": "\(job.id)", "resources": "\(seen)", "drifts": "\(found)"])
    } catch is ShuttingDown {
      self.logger.info("drift scan interrupted by shutdown; it starts over at the next start", metadata: ["job.id": "\(job.id)"])
    } catch {
      self.logger.warning("drift scan failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
      try? await self.finish(job.id, state: .failed, seen: seen, found: found, message: "failed", error: "\(error)")
    }
  }

  /// Every active resource (of one provider, or all) against its baseline; open drifts of
  /// resources no longer active resolve.
  func scanResources(job: String, providerID: String) async throws -> (Int, Int64) {
    var seen = 0
    var found: Int64 = 0
    var active = Set<String>()
    var token = ""
    repeat {
      if Task.isShuttingDownGracefully { throw ShuttingDown() }
      let page = try await self.inventory.listResources(.with {
        $0.providerID = providerID
        $0.status = .active
        $0.pageSize = Int32(self.pageSize)
        $0.pageToken = token
      })
      for resource in page.resources {
        active.insert(resource.id)
        if try await self.compare(resource) == .detected { found += 1 }
      }
      seen += page.resources.count
      try await self.progress(job, seen: seen, found: found, message: "compared \(seen) of \(page.totalSize) resources")
      token = page.nextPageToken
    } while !token.isEmpty
    // Open drifts of resources in scope that are no longer active: deleted since.
    let stale = try await self.store.read { db in
      try String.fetchAll(
        db, sql: "SELECT resource_id FROM drift WHERE open_key IS NOT NULL AND source = ? AND (? = '' OR provider_id = ?)",
        arguments: [Self.source, providerID, providerID])
    }
    for resourceID in stale where !active.contains(resourceID) {
      _ = try await self.record(resourceID: resourceID, gone: "the resource is no longer active")
    }
    return (seen, found)
  }

  func scanAll(job: String) async throws -> (Int, Int64) { try await self.scanResources(job: job, providerID: "") }

  private func progress(_ id: String, seen: Int, found: Int64, message: String) async throws {
    try await self.store.write { db in
      try db.execute(sql: "UPDATE job_run SET resources_seen = ?, drifts_found = ?, message = ? WHERE id = ?", arguments: [seen, found, message, id])
    }
  }

  /// Closes a job run; a failed one also emits `job.failed` (the notifier alerts on it), in the same transaction.
  private func finish(_ id: String, state: State, seen: Int, found: Int64, message: String, error: String? = nil) async throws {
    let outbox = self.outbox
    try await self.store.write { db in
      try db.execute(
        sql: "UPDATE job_run SET state = ?, finished_at = ?, resources_seen = ?, drifts_found = ?, message = ?, error = ? WHERE id = ?",
        arguments: [state.rawValue, Date().timeIntervalSince1970, seen, found, message, error, id])
      if state == .failed {
        try outbox.enqueue(outbox.makeEvent(type: "job.failed", subject: id, severity: .medium), in: db)
      }
    }
  }

  // MARK: Comparing and recording

  enum Outcome: Equatable { case none, detected, unchanged, resolved }

  /// One resource against its latest baseline. A resource without a baseline (inventory captures
  /// one at first discovery, so only a race) has nothing to compare with.
  func compare(_ resource: Fixpoint_V1_Resource) async throws -> Outcome {
    let baseline: Fixpoint_V1_Baseline
    do {
      baseline = try await self.inventory.getBaseline(.with { $0.resourceID = resource.id })
    } catch let error as RPCError where error.code == .notFound {
      return .none
    }
    let expected = try JSONValue(baseline.configuration)
    let live = try JSONValue(resource.configuration)
    let found = DriftClass.of(type: resource.type, expected: expected, live: live, overrides: self.overrides)
    return try await self.record(resource: resource, source: Self.source, comparedWith: "baseline:\(baseline.id)", found: found)
  }

  /// Records what a comparison with a baseline or a definition found (`source` "baseline" or
  /// "iac:<id>"; `comparedWith` "baseline:<id>" or "iac:<id>@<version>"), with its history step
  /// and event, in one transaction.
  func record(resource: Fixpoint_V1_Resource, source: String, comparedWith: String, found: DriftClass?) async throws -> Outcome {
    let outbox = self.outbox
    return try await self.store.write { db in
      let key = DriftRecord.openKey(resourceID: resource.id, source: source)
      let open = try DriftRecord.filter(Column("open_key") == key).fetchOne(db)
      let now = Date().timeIntervalSince1970
      guard let found else {
        guard var open else { return .none }
        try Self.resolve(&open, comment: "the live configuration matches \(comparedWith)", now: now, outbox: outbox, in: db)
        return .resolved
      }
      let differences = DriftDifferences.text(found.differences)
      let kind = found.kind.proto.rawValue
      let severity = found.severity.proto.rawValue
      let broken = String(decoding: try JSONEncoder().encode(found.brokenControls), as: UTF8.self)
      if var open {
        guard open.differences != differences || open.kind != kind || open.severity != severity || open.compared_with != comparedWith
        else { return .unchanged }
        (open.differences, open.kind, open.severity, open.broken_controls) = (differences, kind, severity, broken)
        (open.control_id, open.compared_with, open.external_id) = (found.brokenControls.first ?? "", comparedWith, resource.externalID)
        (open.updated_at, open.updated_by, open.updated_role, open.comment) = (now, Self.actor.subject, Self.actor.role.rawValue, "changed again")
        try open.update(db)
        try DriftChangeRecord.next(of: open, event: "changed", in: db).insert(db)
        try outbox.enqueue(Self.event(open, outbox: outbox, tags: resource.tags), in: db)
        return .detected
      }
      let drift = DriftRecord(
        id: RandomID.make(prefix: "dft"), resource_id: resource.id, external_id: resource.externalID, resource_type: resource.type,
        provider_id: resource.providerID, region: resource.region, kind: kind, severity: severity,
        status: Fixpoint_V1_Drift.Status.detected.rawValue, control_id: found.brokenControls.first ?? "", broken_controls: broken,
        differences: differences, source: source, compared_with: comparedWith, detected_at: now, updated_at: now,
        updated_by: Self.actor.subject, updated_role: Self.actor.role.rawValue, comment: "", open_key: key)
      try drift.insert(db)
      try DriftChangeRecord.next(of: drift, event: "detected", in: db).insert(db)
      try outbox.enqueue(Self.event(drift, outbox: outbox, tags: resource.tags), in: db)
      return .detected
    }
  }

  /// A resource gone from inventory (or back in line with a definition) resolves its open drift.
  func record(resourceID: String, source: String = Scanner.source, gone reason: String) async throws -> Outcome {
    let outbox = self.outbox
    return try await self.store.write { db in
      guard var open = try DriftRecord.filter(Column("open_key") == DriftRecord.openKey(resourceID: resourceID, source: source)).fetchOne(db)
      else { return .none }
      try Self.resolve(&open, comment: reason, now: Date().timeIntervalSince1970, outbox: outbox, in: db)
      return .resolved
    }
  }

  static func resolve(_ drift: inout DriftRecord, comment: String, now: Double, by actor: Principal = Scanner.actor, outbox: Outbox, in db: Database) throws {
    drift.status = Fixpoint_V1_Drift.Status.resolved.rawValue
    drift.open_key = nil
    (drift.updated_at, drift.updated_by, drift.updated_role, drift.comment) = (now, actor.subject, actor.role.rawValue, comment)
    try drift.update(db)
    try DriftChangeRecord.next(of: drift, event: "resolved", in: db).insert(db)
    try outbox.enqueue(Self.event(drift, outbox: outbox), in: db)
  }

  /// `drift.detected` for an open drift, `drift.resolved` for a resolved one; `tags` are the
  /// resource's, when known, for the notifier's subscription filters.
  static func event(_ drift: DriftRecord, outbox: Outbox, tags: [String: String] = [:]) -> Fixpoint_V1_Event {
    let resolved = drift.status == Fixpoint_V1_Drift.Status.resolved.rawValue
    return outbox.makeEvent(
      type: resolved ? "drift.resolved" : "drift.detected", subject: drift.resource_id,
      severity: Fixpoint_V1_Severity(rawValue: drift.severity) ?? .medium
    ) { e in
      e.driftDetected = .with {
        $0.driftID = drift.id
        $0.resource = drift.resourceRef
        $0.resource.tags = tags
        $0.kind = (Fixpoint_V1_Drift.Kind(rawValue: drift.kind) ?? .configuration).name
        $0.paths = DriftDifferences.paths(drift.differences)
        $0.controlID = drift.control_id
        $0.resolved = resolved
        $0.comparedWith = drift.compared_with
      }
    }
  }
}

/// The runner in the service group.
struct ScanRunner: Service {
  let scanner: Scanner
  func run() async throws { await self.scanner.runQueue() }
}

extension DriftClass.Kind {
  var proto: Fixpoint_V1_Drift.Kind {
    switch self {
    case .configuration: .configuration
    case .security: .security
    case .compliance: .compliance
    }
  }
}

extension Fixpoint_V1_Drift.Kind {
  /// The kind's word in events and the CLI.
  var name: String {
    switch self {
    case .security: "security"
    case .compliance: "compliance"
    default: "configuration"
    }
  }
}

