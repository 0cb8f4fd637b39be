import FixpointCore
import FixpointProtocol
import Foundation
import GRDB

/// One finding, as stored.
struct FindingRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "finding"
  var id: String
  var source: String
  var control_id: String
  var finding_type: String
  var resource_id: String
  var external_id: String
  var resource_type: String
  var provider_id: String
  var region: String
  var severity: Int
  var title: String
  var description: String
  var status: Int
  var created_at: Double
  var source_ref: String
  /// resource key + control, set while the finding is open: one open finding per (resource, control).
  var open_key: String?
  /// What automatic planning made of it; nil while it waits to be planned.
  var planning: String?
}

/// Findings: submitted by operators and tools, or raised from drift and compliance events.
struct FindingStore: Sendable {
  let store: Store
  let outbox: Outbox
  /// dispatcher.auto.suggest: a finding recorded while it is off is marked as such, so turning it
  /// on later plans only what arrives from then on (`suggest --all-open` takes the rest).
  var autoPlan = false

  static let migrations: [Store.Migration] = [
    Store.Migration("dispatcher.1-findings") { db in
      try db.execute(sql: """
        CREATE TABLE finding (
          id TEXT PRIMARY KEY,
          source TEXT NOT NULL,
          control_id TEXT NOT NULL,
          finding_type TEXT NOT NULL,
          resource_id TEXT NOT NULL,
          external_id TEXT NOT NULL,
          resource_type TEXT NOT NULL,
          provider_id TEXT NOT NULL,
          region TEXT NOT NULL,
          severity INTEGER NOT NULL,
          title TEXT NOT NULL,
          description TEXT NOT NULL,
          status INTEGER NOT NULL,
          created_at REAL NOT NULL,
          source_ref TEXT NOT NULL,
          open_key TEXT UNIQUE
        );
        CREATE INDEX finding_created ON finding (created_at);
        """)
    }
  ]

  /// Registered after the policy's migration (dispatcher.4).
  static let planningMigration = Store.Migration("dispatcher.5-planning") { db in
    // Findings from before automatic planning are left to the operator (suggest --all-open).
    try db.execute(sql: """
      ALTER TABLE finding ADD COLUMN planning TEXT;
      UPDATE finding SET planning = '';
      CREATE INDEX finding_unplanned ON finding (created_at) WHERE planning IS NULL;
      """)
  }

  /// Validates and records a finding, emitting `finding.submitted`. A repeat of the same
  /// `request_id` returns the first answer; a second open finding for the same resource and control, returns the
  /// finding already recorded and emits nothing.
  func submit(_ request: Fixpoint_V1_SubmitFindingRequest) async throws -> Fixpoint_V1_Finding {
    let record = try Self.validated(request.finding)
    if request.validateOnly {
      var would = record.proto
      would.id = ""
      return would
    }
    return try await RequestLog.once(self.store, method: "SubmitFinding", request: request, requestID: request.requestID) { db in
      if let key = record.open_key, let existing = try FindingRecord.filter(Column("open_key") == key).fetchOne(db) {
        return existing.proto
      }
      try self.insert(record, in: db)
      return record.proto
    }
  }

  /// Records a finding raised by another service's event (drift.detected, compliance.violation).
  /// Runs inside the inbox transaction, so once per event.
  func record(from event: Fixpoint_V1_Event, in db: Database) throws {
    var finding = Fixpoint_V1_Finding()
    switch event.payload {
    case .complianceViolation(let v):
      finding.source = "compliance"
      finding.controlID = v.controlID
      finding.resource = v.resource
      finding.sourceRef = v.resultID
      finding.title = v.title.isEmpty ? "Control \(v.controlID) fails" : "\(v.controlID): \(v.title)"
      finding.description_p = v.reason
      if v.resolved {
        try self.resolve(finding, in: db)
        return
      }
    case .driftDetected(let d):
      // A security or compliance drift names the control it broke, so its handler matches; a
      // configuration drift has none and is recorded without one.
      finding.source = "drift"
      finding.controlID = d.controlID
      if d.controlID.isEmpty { finding.findingType = "drift/\(d.kind)" }
      finding.resource = d.resource
      finding.sourceRef = d.driftID
      finding.title = d.controlID.isEmpty
        ? "Configuration drift in \(d.paths.joined(separator: ", "))"
        : "\(d.controlID) broken by drift in \(d.paths.joined(separator: ", "))"
      if d.resolved {
        try self.resolve(finding, in: db)
        return
      }
    default:
      return
    }
    finding.severity = event.severity
    guard let record = try? Self.validated(finding) else { return }
    if let key = record.open_key, var open = try FindingRecord.filter(Column("open_key") == key).fetchOne(db) {
      // The same failing pair again (the next assessment): the one finding follows it.
      if open.source == record.source, open.source_ref != record.source_ref || open.description != record.description {
        (open.source_ref, open.description, open.severity) = (record.source_ref, record.description, record.severity)
        try open.update(db)
      }
      return
    }
    try self.insert(record, in: db)
  }

  /// A pair that passes again resolves its open finding from the same source (compliance.resolved).
  private func resolve(_ finding: Fixpoint_V1_Finding, in db: Database) throws {
    guard let key = (try? Self.validated(finding))?.open_key,
      var open = try FindingRecord.filter(Column("open_key") == key).fetchOne(db), open.source == finding.source
    else { return }
    open.status = Fixpoint_V1_Finding.Status.resolved.rawValue
    open.open_key = nil
    try open.update(db)
  }

  private func insert(_ record: FindingRecord, in db: Database) throws {
    var record = record
    record.planning = self.autoPlan ? nil : ""
    try record.insert(db)
    let event = self.outbox.makeEvent(
      type: "finding.submitted", subject: record.id,
      severity: Fixpoint_V1_Severity(rawValue: record.severity) ?? .unspecified
    ) { event in
      event.findingSubmitted = .with {
        $0.findingID = record.id
        $0.controlID = record.control_id
        $0.findingType = record.finding_type
        $0.resource = record.resourceRef
        $0.title = record.title
      }
    }
    try self.outbox.enqueue(event, in: db)
  }

  /// The oldest `limit` open findings automatic planning has not looked at yet; nil when none is left.
  func nextUnplanned(_ limit: Int) async throws -> [FindingRecord]? {
    let found = try await self.store.read { db in
      try FindingRecord.filter(Column("planning") == nil && Column("status") == Fixpoint_V1_Finding.Status.open.rawValue)
        .order(Column("created_at"), Column("id")).limit(limit).fetchAll(db)
    }
    return found.isEmpty ? nil : found
  }

  /// Records what planning made of finding `id`; `resolve` closes it (its resource already passes).
  func setPlanning(_ id: String, _ outcome: String, resolve: Bool) async throws {
    try await self.store.write { db in
      guard var finding = try FindingRecord.fetchOne(db, key: id) else { return }
      finding.planning = String(outcome.prefix(1000))
      if resolve {
        finding.status = Fixpoint_V1_Finding.Status.resolved.rawValue
        finding.open_key = nil
      }
      try finding.update(db)
    }
  }

  func list(_ request: Fixpoint_V1_ListFindingsRequest) async throws -> ([FindingRecord], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var query = FindingRecord.all()
    if request.status != .unspecified { query = query.filter(Column("status") == request.status.rawValue) }
    if !request.controlID.isEmpty {
      try Validate.text(request.controlID, field: "control_id", max: 64)
      query = query.filter(Column("control_id") == request.controlID)
    }
    if !request.resourceID.isEmpty {
      try Validate.text(request.resourceID, field: "resource_id", max: 256)
      query = query.filter(Column("resource_id") == request.resourceID)
    }
    if request.minSeverity != .unspecified { query = query.filter(Column("severity") >= request.minSeverity.rawValue) }
    let final = query.order(Column("created_at").desc, Column("id")).limit(page.size, offset: page.offset)
    return (try await self.store.read { db in try final.fetchAll(db) }, page)
  }
}
