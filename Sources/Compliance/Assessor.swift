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

/// Runs assessments: a queued assessment row is taken by the runner (a `Service` in the service
/// group), which pages through inventory's resources over gRPC, evaluates every applicable
/// control of the framework on each, and stores one result per (control, resource). When done,
/// in one transaction: the difference from the previous assessment, the summary, and the events
/// (`compliance.violation` for each failing pair, `compliance.resolved` for each newly fixed one).
/// An assessment a crash left running starts over.
final class Assessor: Sendable {
  let store: Store
  let inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>
  let outbox: Outbox
  let logger: Logger
  /// Resources per inventory page.
  let pageSize: Int
  /// The operator's control parameters (compliance.control.parameters).
  let overrides: ParameterOverrides

  init(
    store: Store, inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>, logger: Logger, pageSize: Int = 500,
    overrides: ParameterOverrides = ParameterOverrides()
  ) {
    self.store = store
    self.overrides = overrides
    self.inventory = inventory
    self.outbox = Outbox(source: .compliance)
    self.logger = logger
    self.pageSize = pageSize
  }

  /// The controls an assessment of `framework` runs: the automated catalogue controls its
  /// requirements name, or `only` of them.
  static func controls(of framework: Framework, only: [String]) throws -> [any Control] {
    do { return try ControlCatalogue.selection(of: framework, only: only) } catch {
      throw ServiceError.invalidArgument(field: "control_ids[\(error.index)]", reason: error.reason)
    }
  }

  /// Queues an assessment for the runner. Validates everything first; stores nothing on bad input.
  func enqueue(_ request: Fixpoint_V1_RunAssessmentRequest, by actor: Principal) async throws -> AssessmentRecord {
    let record = try Self.queued(request, by: actor)
    let stored = try await RequestLog.once(self.store, method: "RunAssessment", request: request, requestID: request.requestID) { db in
      try record.insert(db)
      return record.proto(requirements: false)
    }
    // A repeated request id answers with the first assessment as it is now, not as it was queued.
    return try await self.store.read { db in try AssessmentRecord.fetchOne(db, key: stored.id)! }
  }

  /// A validated, queued assessment row for `request`.
  static func queued(_ request: Fixpoint_V1_RunAssessmentRequest, by actor: Principal) throws -> AssessmentRecord {
    guard let framework = FrameworkCatalogue.byID[request.frameworkID] else {
      throw ServiceError.invalidArgument(
        field: "framework_id", reason: "unknown framework '\(request.frameworkID)'; one of \(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))")
    }
    if !request.providerID.isEmpty { try Validate.id(request.providerID, field: "provider_id", prefix: "prv") }
    let controls = try Self.controls(of: framework, only: request.controlIds)
    return AssessmentRecord(
      id: RandomID.make(prefix: "asm"), framework_id: framework.id, provider_id: request.providerID,
      control_ids: String(decoding: try JSONEncoder().encode(controls.map(\.id)), as: UTF8.self), state: AssessmentState.queued.rawValue,
      requested_by: actor.subject, requested_role: actor.role.rawValue, requested_at: Date().timeIntervalSince1970,
      started_at: nil, finished_at: nil, resources_seen: 0, message: "queued", error: "", previous_id: "", summary: "{}")
  }

  /// After a provider's sync succeeded (`provider.synced`, in the inbox's transaction, so once
  /// per event): queues an assessment of `framework` for that provider.
  static func afterSync(_ event: Fixpoint_V1_Event, framework: String, in db: Database) throws {
    guard case .providerSynced(let synced) = event.payload, synced.succeeded, !synced.providerID.isEmpty else { return }
    let request = Fixpoint_V1_RunAssessmentRequest.with { $0.frameworkID = framework; $0.providerID = synced.providerID }
    var record = try Self.queued(request, by: Principal(subject: "compliance", role: .service))
    record.message = "queued after sync \(synced.jobID)"
    try record.insert(db)
  }

  /// The runner's loop: the oldest queued assessment, one at a time, until shutdown.
  func runQueue() async {
    await JobQueue.run(
      "assessment", logger: self.logger,
      recover: {
        try await self.store.write { db in
          try db.execute(
            sql: "UPDATE assessment SET state = ?, message = 'restarted after an interruption' WHERE state = ?",
            arguments: [AssessmentState.queued.rawValue, AssessmentState.running.rawValue])
        }
      },
      next: {
        try await self.store.read { db in
          try AssessmentRecord.fetchOne(
            db, sql: "SELECT * FROM assessment WHERE state = ? ORDER BY requested_at, rowid LIMIT 1", arguments: [AssessmentState.queued.rawValue])
        }
      },
      execute: { await self.execute($0) })
  }

  /// Stops an assessment at a page boundary on SIGTERM; it stays running and starts over next time.
  struct ShuttingDown: Error {}

  private func execute(_ assessment: AssessmentRecord) async {
    let id = assessment.id
    do {
      guard let framework = FrameworkCatalogue.byID[assessment.framework_id] else {
        throw ServiceError.failedPrecondition("framework \(assessment.framework_id) is no longer known")
      }
      let wanted = Set(assessment.controlIDs)
      let controls = ControlCatalogue.all.filter { wanted.contains($0.id) }
      var byType: [String: [any Control]] = [:]
      for c in controls { for t in c.resourceTypes { byType[t, default: []].append(c) } }
      let now = Date()
      let waivers = try await self.store.write { db -> [WaiverRecord] in
        try db.execute(sql: "DELETE FROM result WHERE assessment_id = ?", arguments: [id])
        try db.execute(
          sql: "UPDATE assessment SET state = ?, started_at = ?, resources_seen = 0, message = 'reading inventory' WHERE id = ?",
          arguments: [AssessmentState.running.rawValue, now.timeIntervalSince1970, id])
        return try WaiverRecord.fetchAll(db).filter { $0.active(at: now) }
      }
      var token = ""
      var seen = 0
      repeat {
        if Task.isShuttingDownGracefully { throw ShuttingDown() }
        let page = try await self.inventory.listResources(.with {
          $0.providerID = assessment.provider_id
          $0.status = .active
          $0.pageSize = Int32(self.pageSize)
          $0.pageToken = token
        })
        let rows = page.resources.flatMap { resource in
          Self.evaluate(resource, controls: byType[resource.type] ?? [], waivers: waivers, assessmentID: id, now: now, overrides: self.overrides)
        }
        seen += page.resources.count
        let total = page.totalSize
        try await self.store.write { [seen] db in
          for row in rows { try row.insert(db) }
          try db.execute(
            sql: "UPDATE assessment SET resources_seen = ?, message = ? WHERE id = ?",
            arguments: [seen, "evaluated \(seen) of \(total) resources", id])
        }
        token = page.nextPageToken
      } while !token.isEmpty
      try await self.finish(assessment, framework: framework, assessed: wanted)
      self.logger.info("assessment finished", metadata: ["assessment.id": "\(id)", "framework": "\(framework.id)", "resources": "\(seen)"])
    } catch is ShuttingDown {
      self.logger.info("assessment interrupted by shutdown; it starts over at the next start", metadata: ["assessment.id": "\(id)"])
    } catch {
      self.logger.warning("assessment failed", metadata: ["assessment.id": "\(id)", "error": "\(error)"])
      try? await self.store.write { db in
        try db.execute(
          sql: "UPDATE assessment SET state = ?, finished_at = ?, error = ?, message = 'failed' WHERE id = ?",
          arguments: [AssessmentState.failed.rawValue, Date().timeIntervalSince1970, "\(error)", id])
      }
    }
  }

  /// The results of `controls` on one resource, with waivers applied (a waived pair that would
  /// not pass is recorded as waived, with the verdict's reason kept).
  static func evaluate(
    _ resource: Fixpoint_V1_Resource, controls: [any Control], waivers: [WaiverRecord], assessmentID: String, now: Date,
    overrides: ParameterOverrides = ParameterOverrides()
  ) -> [ResultRecord] {
    guard !controls.isEmpty else { return [] }
    let document = (try? JSONValue(resource.configuration)) ?? [:]
    return controls.map { control in
      let verdict = control.evaluate(document, overrides.parameters(for: control, now: now))
      var status: ResultStatus
      var reason = ""
      var failing: [DocumentPath] = []
      switch verdict {
      case .pass: status = .pass
      case .fail(let paths, let why): (status, reason, failing) = (.fail, why, paths)
      case .notApplicable(let why): (status, reason) = (.notApplicable, why)
      case .notEvaluated(let why): (status, reason) = (.notEvaluated, why)
      }
      var waiverID = ""
      if status == .fail || status == .notEvaluated,
        let waiver = waivers.first(where: { $0.covers(control: control.id, resourceID: resource.id, tags: resource.tags) })
      {
        (status, waiverID) = (.waived, waiver.id)
      }
      return ResultRecord(
        id: RandomID.make(prefix: "rst"), assessment_id: assessmentID, control_id: control.id, resource_id: resource.id,
        external_id: resource.externalID, resource_type: resource.type, resource_name: resource.name, provider_id: resource.providerID,
        region: resource.region, status: status.rawValue, reason: reason,
        paths: String(decoding: (try? JSONEncoder().encode(failing.map(\.description))) ?? Data("[]".utf8), as: UTF8.self),
        severity: control.severity.rawValue, waiver_id: waiverID, change: 0, evaluated_at: now.timeIntervalSince1970)
    }
  }

  /// Differences from the previous assessment, the summary and the events, in one transaction.
  private func finish(_ assessment: AssessmentRecord, framework: Framework, assessed: Set<String>) async throws {
    let outbox = self.outbox
    try await self.store.write { db in
      let id = assessment.id
      let previous = try String.fetchOne(
        db,
        sql: """
          SELECT id FROM assessment WHERE framework_id = ? AND provider_id = ? AND state = ? AND id != ?
          ORDER BY finished_at DESC LIMIT 1
          """,
        arguments: [assessment.framework_id, assessment.provider_id, AssessmentState.succeeded.rawValue, id]) ?? ""
      let fail = ResultStatus.fail.rawValue
      if !previous.isEmpty {
        let earlier = "SELECT 1 FROM result p WHERE p.assessment_id = ? AND p.control_id = result.control_id AND p.resource_id = result.resource_id AND p.status = ?"
        try db.execute(
          sql: "UPDATE result SET change = 1 WHERE assessment_id = ? AND status = ? AND NOT EXISTS (\(earlier))",
          arguments: [id, fail, previous, fail])
        try db.execute(
          sql: "UPDATE result SET change = 2 WHERE assessment_id = ? AND status = ? AND EXISTS (\(earlier))",
          arguments: [id, ResultStatus.pass.rawValue, previous, fail])
      }
      var counts: [String: Scoring.ControlCounts] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT control_id, status, COUNT(*) AS n FROM result WHERE assessment_id = ? GROUP BY control_id, status", arguments: [id]) {
        if let status = ResultStatus(rawValue: row["status"]) { counts[row["control_id"] as String, default: [:]][status] = row["n"] }
      }
      var bySeverity: [String: Int] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT severity, COUNT(*) AS n FROM result WHERE assessment_id = ? AND status = ? GROUP BY severity", arguments: [id, fail]) {
        bySeverity[row["severity"] as String] = row["n"]
      }
      let newFailures = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM result WHERE assessment_id = ? AND change = 1", arguments: [id]) ?? 0
      let newlyFixed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM result WHERE assessment_id = ? AND change = 2", arguments: [id]) ?? 0
      let summary = Scoring.summary(
        framework: framework, counts: counts, assessed: assessed, failedBySeverity: bySeverity, newFailures: newFailures, newlyFixed: newlyFixed)
      // Every failing pair (the dispatcher keeps one finding per pair) and every newly fixed one.
      let notify = try ResultRecord.fetchAll(
        db, sql: "SELECT * FROM result WHERE assessment_id = ? AND (status = ? OR change = 2)", arguments: [id, fail])
      for result in notify { try outbox.enqueue(Self.event(result, outbox: outbox), in: db) }
      try db.execute(
        sql: "UPDATE assessment SET state = ?, finished_at = ?, previous_id = ?, summary = ?, message = 'done' WHERE id = ?",
        arguments: [AssessmentState.succeeded.rawValue, Date().timeIntervalSince1970, previous,
                    String(decoding: try JSONEncoder().encode(summary), as: UTF8.self), id])
    }
  }

  static func event(_ result: ResultRecord, outbox: Outbox) -> Fixpoint_V1_Event {
    let resolved = result.status != ResultStatus.fail.rawValue
    return outbox.makeEvent(
      type: resolved ? "compliance.resolved" : "compliance.violation", subject: result.resource_id,
      severity: Severity(rawValue: result.severity)?.proto ?? .medium
    ) { e in
      e.complianceViolation = .with {
        $0.resultID = result.id
        $0.controlID = result.control_id
        $0.assessmentID = result.assessment_id
        $0.resource = result.resourceRef
        $0.reason = result.reason
        $0.title = ControlCatalogue.byID[result.control_id]?.title ?? result.control_id
        $0.resolved = resolved
      }
    }
  }
}

/// The runner in the service group.
struct AssessmentRunner: Service {
  let assessor: Assessor
  func run() async throws { await self.assessor.runQueue() }
}

extension ResultRecord {
  var resourceRef: Fixpoint_V1_ResourceRef {
    .init(resourceID: self.resource_id, externalID: self.external_id, type: self.resource_type, providerID: self.provider_id, region: self.region)
  }
}
