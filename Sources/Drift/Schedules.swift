import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle

/// drift's schedules: `resource_sync` (inventory syncs every provider), `drift_detection` (a
/// scan of everything, then of each IaC definition that can be compared), `compliance_check`
/// (compliance assesses each enabled framework). Each is an interval or a cron expression.
///
/// A due schedule becomes a queued job run (trigger: its name; requested by `scheduler`, or by
/// whoever called RunSchedule), which the one job runner executes like any scan, so runs are
/// recorded with their state, times and a log excerpt, and survive a crash (a running job is
/// queued again at start). A schedule never has two runs at once: while its latest job run is
/// queued or running, a due slot is skipped and RunSchedule is refused. The next run is the first
/// slot after now, so a run missed while drift was down (next_run_at in the past at start) runs
/// once, not once per missed slot.
struct Schedules: Sendable {
  let store: Store
  let minimumInterval: Int64
  let frameworks: [String]
  static let names = ["resource_sync", "drift_detection", "compliance_check"]
  static let actor = Principal(subject: "scheduler", role: .service)

  /// When a schedule runs next after `now`.
  static func next(_ s: ScheduleRecord, after now: Date) throws -> Double? {
    guard s.enabled else { return nil }
    if s.cron.isEmpty { return now.timeIntervalSince1970 + Double(s.interval_seconds) }
    let cron = try CronExpression(s.cron)
    return cron.next(after: now, in: TimeZone(identifier: s.time_zone) ?? .gmt)?.timeIntervalSince1970
  }

  static func isRunning(_ s: ScheduleRecord, in db: Database) throws -> Bool {
    guard let job = s.last_job_id else { return false }
    let state = try Int.fetchOne(db, sql: "SELECT state FROM job_run WHERE id = ?", arguments: [job])
    return state == Scanner.State.queued.rawValue || state == Scanner.State.running.rawValue
  }

  /// Queues one run of `s` (in the caller's transaction), which then saves `s`.
  static func trigger(_ s: inout ScheduleRecord, by actor: Principal, now: Date, in db: Database) throws -> JobRunRecord {
    var job = Scanner.queued(trigger: s.name, scope: ["schedule": .string(s.name)], by: actor.subject)
    job.message = "queued by \(actor.subject)"
    try job.insert(db)
    s.last_job_id = job.id
    s.last_run_at = now.timeIntervalSince1970
    return job
  }

  /// Queues each due schedule that is not still running; moves every due one to its next slot.
  func runDue(now: Date = Date(), logger: Logger) async throws {
    try await self.store.write { db in
      for var s in try ScheduleRecord.filter(Column("enabled") == true).fetchAll(db) {
        guard let at = s.next_run_at else {
          s.next_run_at = try Self.next(s, after: now)
          try s.update(db)
          continue
        }
        guard at <= now.timeIntervalSince1970 else { continue }
        if try Self.isRunning(s, in: db) {
          logger.info("schedule skipped: its previous run is still going", metadata: ["schedule": "\(s.name)", "job.id": "\(s.last_job_id ?? "")"])
        } else {
          let job = try Self.trigger(&s, by: Self.actor, now: now, in: db)
          logger.info("schedule due", metadata: ["schedule": "\(s.name)", "job.id": "\(job.id)"])
        }
        s.next_run_at = try Self.next(s, after: now)
        try s.update(db)
      }
    }
  }

  // MARK: RPCs

  func list() async throws -> Fixpoint_V1_ListSchedulesResponse {
    try await self.store.read { db in
      let rows = try ScheduleRecord.order(Column("name")).fetchAll(db)
      return try .with { $0.schedules = try rows.map { $0.proto(running: try Self.isRunning($0, in: db)) } }
    }
  }

  func update(_ request: Fixpoint_V1_UpdateScheduleRequest) async throws -> Fixpoint_V1_Schedule {
    try Validate.text(request.name, field: "name", max: 64)
    guard Self.names.contains(request.name) else {
      throw ServiceError.invalidArgument(field: "name", reason: "'\(request.name.prefix(64))' is not a schedule: \(Self.names.joined(separator: ", "))")
    }
    guard request.cron.isEmpty || request.intervalSeconds == 0 else {
      throw ServiceError.invalidArgument(field: "cron", reason: "give interval_seconds or cron, not both")
    }
    if request.cron.isEmpty {
      guard (self.minimumInterval...604_800).contains(request.intervalSeconds) else {
        throw ServiceError.invalidArgument(field: "interval_seconds", reason: "must be between \(self.minimumInterval) and 604800")
      }
    } else {
      try Validate.text(request.cron, field: "cron", max: 200)
    }
    let zone = request.timeZone.isEmpty ? "UTC" : request.timeZone
    guard zone.count <= 64, let timeZone = TimeZone(identifier: zone) else {
      throw ServiceError.invalidArgument(field: "time_zone", reason: "'\(zone.prefix(64))' is not a time zone name such as Europe/Berlin")
    }
    if !request.cron.isEmpty, try CronExpression(request.cron).next(after: Date(), in: timeZone) == nil {
      throw ServiceError.invalidArgument(field: "cron", reason: "'\(request.cron)' matches no minute in the next four years")
    }
    return try await RequestLog.once(self.store, method: "UpdateSchedule", request: request, requestID: request.requestID) { db in
      guard var row = try ScheduleRecord.fetchOne(db, key: request.name) else { throw ServiceError.notFound(kind: "schedule", id: request.name) }
      row.enabled = request.enabled
      row.cron = request.cron
      row.time_zone = zone
      if request.cron.isEmpty { row.interval_seconds = request.intervalSeconds }
      row.next_run_at = try Self.next(row, after: Date())
      try row.update(db)
      return row.proto(running: try Self.isRunning(row, in: db))
    }
  }

  func runNow(_ request: Fixpoint_V1_RunScheduleRequest, by actor: Principal) async throws -> Fixpoint_V1_JobRun {
    try Validate.text(request.name, field: "name", max: 64)
    return try await RequestLog.once(self.store, method: "RunSchedule", request: request, requestID: request.requestID) { db in
      guard var row = try ScheduleRecord.fetchOne(db, key: request.name) else { throw ServiceError.notFound(kind: "schedule", id: request.name) }
      guard try !Self.isRunning(row, in: db) else {
        throw ServiceError.failedPrecondition("\(row.name) is already running (job \(row.last_job_id ?? "")); a schedule runs once at a time")
      }
      let job = try Self.trigger(&row, by: actor, now: Date(), in: db)
      try row.update(db)
      return job.proto
    }
  }

  // MARK: What a run does (called by the job runner)

  /// `drift_detection`: a baseline scan of everything, then each definition that can be compared.
  static func driftDetection(_ scanner: Scanner, job: String) async throws -> (seen: Int, found: Int64, message: String) {
    var seen = 0
    var found: Int64 = 0
    var log: [String] = []
    var failed = 0
    let (s, f) = try await scanner.scanAll(job: job)
    (seen, found) = (s, f)
    log.append("baselines: \(s) resources, \(f) drifts new or changed")
    let definitions = try await scanner.store.read { db in
      try DefinitionRecord.filter(Column("format") != Fixpoint_V1_IaCDefinition.Format.kubernetes.rawValue).order(Column("name")).fetchAll(db)
    }
    for d in definitions {
      if Task.isShuttingDownGracefully { throw Scanner.ShuttingDown() }
      do {
        let (s, f) = try await scanner.definitions.compare(d.id, job: "\(job)-\(d.id)", scanner: scanner) { _, _ in }
        seen += s
        found += f
        log.append("\(d.name): \(f) changed")
      } catch {
        failed += 1
        log.append("\(d.name): failed: \(error)")
      }
    }
    // The other definitions were compared; the run says which one could not be.
    if failed > 0 { throw ScheduleFailure(message: "\(failed) of \(definitions.count) definitions could not be compared: " + log.joined(separator: "; ")) }
    return (seen, found, log.joined(separator: "; "))
  }

  /// `resource_sync`: each connected provider synced, one after another, to the end.
  static func resourceSync(_ inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>, job: String) async throws -> (Int, String) {
    let providers = try await inventory.listProviders(.with { $0.pageSize = 1000 }).providers
    var log: [String] = []
    var failed = 0
    for p in providers {
      if Task.isShuttingDownGracefully { throw Scanner.ShuttingDown() }
      do {
        var sync = try await inventory.syncProvider(.with { $0.providerID = p.id })
        while sync.progress.state == .running || sync.progress.state == .queued {
          try await Task.sleep(for: .milliseconds(500))
          sync = try await inventory.getSyncJob(.with { $0.jobID = sync.progress.jobID })
        }
        log.append("\(p.id): \(sync.progress.state == .succeeded ? "synced" : "sync \(sync.progress.jobID) failed: \(sync.progress.error)")")
        if sync.progress.state != .succeeded { failed += 1 }
      } catch {
        failed += 1
        log.append("\(p.id): \(error)")
      }
    }
    if failed > 0 { throw ScheduleFailure(message: "\(failed) of \(providers.count) syncs failed: " + log.joined(separator: "; ")) }
    return (providers.count, providers.isEmpty ? "no connected providers" : log.joined(separator: "; "))
  }

  /// `compliance_check`: an assessment of each enabled framework (`drift.schedule.frameworks`).
  func complianceCheck(_ compliance: Fixpoint_V1_ComplianceService.Client<HTTP2ClientTransport.Posix>, job: String) async throws -> String {
    var log: [String] = []
    for framework in self.frameworks {
      let assessment = try await compliance.runAssessment(.with { $0.requestID = "\(job)-\(framework)"; $0.frameworkID = framework })
      log.append("\(framework): \(assessment.id)")
    }
    return "started " + log.joined(separator: ", ")
  }
}

struct ScheduleFailure: Error, CustomStringConvertible {
  var message: String
  var description: String { self.message }
}

/// The scheduler in the service group: looks for due schedules every second.
struct ScheduleRunner: Service {
  let schedules: Schedules
  let logger: Logger

  func run() async throws {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        try await self.schedules.runDue(logger: self.logger)
      } catch {
        self.logger.warning("scheduler: \(error)")
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }
}
