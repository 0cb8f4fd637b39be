import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB

/// drift's schema: drifts, schedules (seeded, disabled) and job runs.
enum DriftStore {
  static let migrations: [Store.Migration] = [
    Store.Migration("drift.1-drifts-schedules") { db in
      try db.execute(sql: """
        CREATE TABLE drift (
          id TEXT PRIMARY KEY,
          resource_id TEXT NOT NULL,
          external_id TEXT NOT NULL,
          resource_type TEXT NOT NULL,
          kind INTEGER NOT NULL,
          severity INTEGER NOT NULL,
          status INTEGER NOT NULL,
          differences BLOB NOT NULL,
          compared_with TEXT NOT NULL,
          detected_at REAL NOT NULL,
          comment TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE schedule (
          name TEXT PRIMARY KEY,
          enabled INTEGER NOT NULL,
          interval_seconds INTEGER NOT NULL,
          next_run_at REAL,
          last_run_at REAL
        );
        INSERT INTO schedule (name, enabled, interval_seconds) VALUES ('baseline-scan', 0, 3600), ('iac-scan', 0, 21600);
        CREATE TABLE job_run (
          id TEXT PRIMARY KEY,
          trigger TEXT NOT NULL,
          state INTEGER NOT NULL,
          started_at REAL NOT NULL,
          finished_at REAL,
          drifts_found INTEGER NOT NULL DEFAULT 0,
          error TEXT
        );
        """)
    },
    // Scans were never built before this migration, so the drift table is empty: it is made anew
    // with differences as canonical JSON (compared as text to tell a further change from the
    // same drift seen again), the open-drift key and the history. job_run gains the scope and
    // the progress a queued scan needs; pending_resource holds resource.changed events until the
    // runner compares them (several events for one resource are one comparison).
    Store.Migration("drift.2-baseline-scans") { db in
      try db.execute(sql: """
        DROP TABLE drift;
        CREATE TABLE drift (
          id TEXT PRIMARY KEY,
          resource_id TEXT NOT NULL,
          external_id TEXT NOT NULL,
          resource_type TEXT NOT NULL,
          provider_id TEXT NOT NULL,
          region TEXT NOT NULL,
          kind INTEGER NOT NULL,
          severity INTEGER NOT NULL,
          status INTEGER NOT NULL,
          control_id TEXT NOT NULL,
          broken_controls TEXT NOT NULL,
          differences TEXT NOT NULL,
          source TEXT NOT NULL,
          compared_with TEXT NOT NULL,
          detected_at REAL NOT NULL,
          updated_at REAL NOT NULL,
          updated_by TEXT NOT NULL,
          updated_role TEXT NOT NULL,
          comment TEXT NOT NULL DEFAULT '',
          open_key TEXT UNIQUE
        );
        CREATE INDEX drift_by_resource ON drift (resource_id, detected_at);
        CREATE TABLE drift_change (
          drift_id TEXT NOT NULL REFERENCES drift(id),
          seq INTEGER NOT NULL,
          event TEXT NOT NULL,
          at REAL NOT NULL,
          by_subject TEXT NOT NULL,
          by_role TEXT NOT NULL,
          status INTEGER NOT NULL,
          kind INTEGER NOT NULL,
          severity INTEGER NOT NULL,
          differences TEXT NOT NULL,
          comment TEXT NOT NULL,
          PRIMARY KEY (drift_id, seq)
        );
        ALTER TABLE job_run ADD COLUMN scope TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE job_run ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE job_run ADD COLUMN resources_seen INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE job_run ADD COLUMN message TEXT NOT NULL DEFAULT '';
        CREATE INDEX job_run_queue ON job_run (state, started_at);
        CREATE TABLE pending_resource (
          resource_id TEXT PRIMARY KEY,
          deleted INTEGER NOT NULL,
          event_id TEXT NOT NULL,
          queued_at REAL NOT NULL
        );
        """)
    },
    // IaC definitions: a name keeps its versions (each with the declared resources as parsed, so
    // a comparison never parses again, and the kept copy of the file); each comparison's report.
    Store.Migration("drift.3-iac-definitions") { db in
      try db.execute(sql: """
        CREATE TABLE iac_definition (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          format INTEGER NOT NULL,
          provider_id TEXT NOT NULL,
          regions TEXT NOT NULL,
          resource_types TEXT NOT NULL,
          ignore_rules TEXT NOT NULL,
          stack TEXT NOT NULL,
          version INTEGER NOT NULL,
          created_at REAL NOT NULL
        );
        CREATE TABLE iac_version (
          definition_id TEXT NOT NULL REFERENCES iac_definition(id) ON DELETE CASCADE,
          version INTEGER NOT NULL,
          sha256 TEXT NOT NULL,
          content BLOB NOT NULL,
          declared TEXT NOT NULL,
          unsupported TEXT NOT NULL,
          resource_count INTEGER NOT NULL,
          uploaded_at REAL NOT NULL,
          uploaded_by TEXT NOT NULL,
          uploaded_role TEXT NOT NULL,
          PRIMARY KEY (definition_id, version)
        );
        CREATE TABLE iac_report (
          job_id TEXT PRIMARY KEY,
          definition_id TEXT NOT NULL REFERENCES iac_definition(id) ON DELETE CASCADE,
          version INTEGER NOT NULL,
          generated_at REAL NOT NULL,
          report BLOB NOT NULL
        );
        CREATE INDEX iac_report_latest ON iac_report (definition_id, generated_at);
        """)
    },
    // The scheduler: the two seeded schedules were never run, so they are replaced by the three
    // jobs it runs; a schedule is an interval or a cron expression, and knows its latest run.
    Store.Migration("drift.4-scheduler") { db in
      try db.execute(sql: """
        DELETE FROM schedule;
        ALTER TABLE schedule ADD COLUMN cron TEXT NOT NULL DEFAULT '';
        ALTER TABLE schedule ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
        ALTER TABLE schedule ADD COLUMN last_job_id TEXT;
        INSERT INTO schedule (name, enabled, interval_seconds) VALUES
          ('resource_sync', 0, 86400), ('drift_detection', 1, 14400), ('compliance_check', 0, 86400);
        """)
    },
  ]
}

struct DriftRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "drift"
  var id: String
  var resource_id: String
  var external_id: String
  var resource_type: String
  var provider_id: String
  var region: String
  var kind: Int
  var severity: Int
  var status: Int
  var control_id: String
  /// JSON array of control ids, worst first.
  var broken_controls: String
  /// Canonical JSON: `[{"path", "before", "after"}]` in path order.
  var differences: String
  /// "baseline" or "iac:<definition id>": a resource has at most one open drift per source.
  var source: String
  var compared_with: String
  var detected_at: Double
  var updated_at: Double
  var updated_by: String
  var updated_role: String
  var comment: String
  /// "<resource id> <source>" while the drift is open, NULL once resolved.
  var open_key: String?

  static func openKey(resourceID: String, source: String) -> String { "\(resourceID) \(source)" }

  var resourceRef: Fixpoint_V1_ResourceRef {
    .init(resourceID: self.resource_id, externalID: self.external_id, type: self.resource_type, providerID: self.provider_id, region: self.region)
  }

  var brokenControls: [String] { (try? JSONDecoder().decode([String].self, from: Data(self.broken_controls.utf8))) ?? [] }

  func proto(history: [DriftChangeRecord] = []) throws -> Fixpoint_V1_Drift {
    var d = Fixpoint_V1_Drift()
    d.id = self.id
    d.resource = self.resourceRef
    d.kind = Fixpoint_V1_Drift.Kind(rawValue: self.kind) ?? .unspecified
    d.severity = Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified
    d.status = Fixpoint_V1_Drift.Status(rawValue: self.status) ?? .unspecified
    d.differences = try DriftDifferences.proto(self.differences)
    d.comparedWith = self.compared_with
    d.detectedAt = .init(date: Date(timeIntervalSince1970: self.detected_at))
    d.lastUpdate = .with {
      $0.subject = self.updated_by
      $0.role = self.updated_role
      $0.time = .init(date: Date(timeIntervalSince1970: self.updated_at))
    }
    d.comment = self.comment
    d.controlID = self.control_id
    d.brokenControls = self.brokenControls
    d.history = try history.map { try $0.proto() }
    return d
  }
}

/// One step of a drift's history (`drift_change`).
struct DriftChangeRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "drift_change"
  var drift_id: String
  var seq: Int
  var event: String
  var at: Double
  var by_subject: String
  var by_role: String
  var status: Int
  var kind: Int
  var severity: Int
  var differences: String
  var comment: String

  /// The next step of `drift` as it now is.
  static func next(of drift: DriftRecord, event: String, in db: Database) throws -> DriftChangeRecord {
    let seq = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM drift_change WHERE drift_id = ?", arguments: [drift.id]) ?? 1
    return DriftChangeRecord(
      drift_id: drift.id, seq: seq, event: event, at: drift.updated_at, by_subject: drift.updated_by, by_role: drift.updated_role,
      status: drift.status, kind: drift.kind, severity: drift.severity, differences: drift.differences, comment: drift.comment)
  }

  func proto() throws -> Fixpoint_V1_DriftChange {
    try .with {
      $0.event = self.event
      $0.by = .with {
        $0.subject = self.by_subject
        $0.role = self.by_role
        $0.time = .init(date: Date(timeIntervalSince1970: self.at))
      }
      $0.status = Fixpoint_V1_Drift.Status(rawValue: self.status) ?? .unspecified
      $0.kind = Fixpoint_V1_Drift.Kind(rawValue: self.kind) ?? .unspecified
      $0.severity = Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified
      $0.differences = try DriftDifferences.proto(self.differences)
      $0.comment = self.comment
    }
  }
}

/// Attribute differences as stored: canonical JSON, so two equal lists are equal text.
enum DriftDifferences {
  static func text(_ differences: [PathDifference]) -> String {
    JSONValue.array(differences.map { ["path": .string($0.path.description), "before": $0.before, "after": $0.after] }).description
  }

  static func proto(_ text: String) throws -> [Fixpoint_V1_PathDiff] {
    let parsed = try JSONValue.parse(Array(text.utf8))
    return (parsed.arrayValue ?? []).map { item in
      .with {
        $0.path = item["path"]?.stringValue ?? ""
        $0.before = (item["before"] ?? .null).protoValue
        $0.after = (item["after"] ?? .null).protoValue
      }
    }
  }

  static func paths(_ text: String) -> [String] {
    ((try? JSONValue.parse(Array(text.utf8)))?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
  }
}

struct ScheduleRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "schedule"
  var name: String
  var enabled: Bool
  var interval_seconds: Int64
  var next_run_at: Double?
  var last_run_at: Double?
  var cron: String
  var time_zone: String
  var last_job_id: String?

  func proto(running: Bool) -> Fixpoint_V1_Schedule {
    .with {
      $0.name = self.name
      $0.enabled = self.enabled
      $0.intervalSeconds = self.cron.isEmpty ? self.interval_seconds : 0
      if let at = self.next_run_at { $0.nextRunAt = .init(date: Date(timeIntervalSince1970: at)) }
      if let at = self.last_run_at { $0.lastRunAt = .init(date: Date(timeIntervalSince1970: at)) }
      $0.cron = self.cron
      $0.timeZone = self.time_zone
      $0.lastJobID = self.last_job_id ?? ""
      $0.running = running
    }
  }
}

struct JobRunRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "job_run"
  var id: String
  /// "scan", "resource.changed" or a schedule's name.
  var trigger: String
  var state: Int
  /// When it was queued, then when it started running.
  var started_at: Double
  var finished_at: Double?
  var drifts_found: Int64
  var error: String?
  /// `{"all": true}`, `{"provider_id": …}` or `{"resource_id": …}`; `refresh` when inventory
  /// reads the resource again first.
  var scope: String
  var requested_by: String
  var resources_seen: Int64
  var message: String

  var scopeDocument: JSONValue { (try? JSONValue.parse(Array(self.scope.utf8))) ?? [:] }

  var proto: Fixpoint_V1_JobRun {
    .with {
      $0.id = self.id
      $0.trigger = self.trigger
      $0.driftsFound = self.drifts_found
      $0.scope = self.scopeDocument.protoStruct
      $0.requestedBy = self.requested_by
      $0.progress = .with {
        $0.jobID = self.id
        $0.state = Fixpoint_V1_JobProgress.State(rawValue: self.state) ?? .unspecified
        $0.startedAt = .init(date: Date(timeIntervalSince1970: self.started_at))
        if let at = self.finished_at { $0.finishedAt = .init(date: Date(timeIntervalSince1970: at)) }
        $0.error = self.error ?? ""
        $0.message = self.message
        $0.counters = ["resources_seen": self.resources_seen]
      }
    }
  }
}
