import FixpointCore
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
    }
  ]
}

struct DriftRecord: Codable, FetchableRecord, Sendable {
  var id: String
  var resource_id: String
  var external_id: String
  var resource_type: String
  var kind: Int
  var severity: Int
  var status: Int
  var differences: Data
  var compared_with: String
  var detected_at: Double
  var comment: String

  func proto() throws -> Fixpoint_V1_Drift {
    var d = Fixpoint_V1_Drift()
    d.id = self.id
    d.resource = .with {
      $0.resourceID = self.resource_id
      $0.externalID = self.external_id
      $0.type = self.resource_type
    }
    d.kind = Fixpoint_V1_Drift.Kind(rawValue: self.kind) ?? .unspecified
    d.severity = Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified
    d.status = Fixpoint_V1_Drift.Status(rawValue: self.status) ?? .unspecified
    d.differences = try Fixpoint_V1_Drift(serializedBytes: self.differences).differences
    d.comparedWith = self.compared_with
    d.detectedAt = .init(date: Date(timeIntervalSince1970: self.detected_at))
    d.comment = self.comment
    return d
  }
}

struct ScheduleRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "schedule"
  var name: String
  var enabled: Bool
  var interval_seconds: Int64
  var next_run_at: Double?
  var last_run_at: Double?

  var proto: Fixpoint_V1_Schedule {
    .with {
      $0.name = self.name
      $0.enabled = self.enabled
      $0.intervalSeconds = self.interval_seconds
      if let at = self.next_run_at { $0.nextRunAt = .init(date: Date(timeIntervalSince1970: at)) }
      if let at = self.last_run_at { $0.lastRunAt = .init(date: Date(timeIntervalSince1970: at)) }
    }
  }
}

struct JobRunRecord: Codable, FetchableRecord, Sendable {
  var id: String
  var trigger: String
  var state: Int
  var started_at: Double
  var finished_at: Double?
  var drifts_found: Int64
  var error: String?

  var proto: Fixpoint_V1_JobRun {
    .with {
      $0.id = self.id
      $0.trigger = self.trigger
      $0.driftsFound = self.drifts_found
      $0.progress = .with {
        $0.jobID = self.id
        $0.state = Fixpoint_V1_JobProgress.State(rawValue: self.state) ?? .unspecified
        $0.startedAt = .init(date: Date(timeIntervalSince1970: self.started_at))
        if let at = self.finished_at { $0.finishedAt = .init(date: Date(timeIntervalSince1970: at)) }
        $0.error = self.error ?? ""
      }
    }
  }
}
