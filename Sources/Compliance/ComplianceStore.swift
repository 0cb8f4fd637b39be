import FixpointCore
import Foundation
import GRDB

/// compliance's schema. Frameworks and controls are data in FixpointControls, not rows: the store
/// holds what happened — assessments, their results, waivers.
enum ComplianceStore {
  static let migrations: [Store.Migration] = [
    Store.Migration("compliance.1-frameworks") { db in
      // The first schema seeded framework rows; kept so existing files migrate in order.
      try db.execute(sql: "CREATE TABLE framework (id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL)")
    },
    Store.Migration("compliance.2-assessments-results-waivers") { db in
      try db.execute(sql: """
        DROP TABLE framework;
        CREATE TABLE assessment (
          id TEXT PRIMARY KEY,
          framework_id TEXT NOT NULL,
          provider_id TEXT NOT NULL,
          control_ids TEXT NOT NULL,
          state INTEGER NOT NULL,
          requested_by TEXT NOT NULL,
          requested_role TEXT NOT NULL,
          requested_at REAL NOT NULL,
          started_at REAL,
          finished_at REAL,
          resources_seen INTEGER NOT NULL DEFAULT 0,
          message TEXT NOT NULL DEFAULT '',
          error TEXT NOT NULL DEFAULT '',
          previous_id TEXT NOT NULL DEFAULT '',
          summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX assessment_by_framework ON assessment (framework_id, provider_id, requested_at);
        CREATE TABLE result (
          id TEXT PRIMARY KEY,
          assessment_id TEXT NOT NULL REFERENCES assessment (id) ON DELETE CASCADE,
          control_id TEXT NOT NULL,
          resource_id TEXT NOT NULL,
          external_id TEXT NOT NULL,
          resource_type TEXT NOT NULL,
          resource_name TEXT NOT NULL,
          provider_id TEXT NOT NULL,
          region TEXT NOT NULL,
          status INTEGER NOT NULL,
          reason TEXT NOT NULL,
          paths TEXT NOT NULL,
          severity TEXT NOT NULL,
          waiver_id TEXT NOT NULL,
          change INTEGER NOT NULL DEFAULT 0,
          evaluated_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX result_pair ON result (assessment_id, control_id, resource_id);
        CREATE INDEX result_by_status ON result (assessment_id, status);
        CREATE TABLE waiver (
          id TEXT PRIMARY KEY,
          control_id TEXT NOT NULL,
          resource_id TEXT NOT NULL,
          tag_selector TEXT NOT NULL,
          reason TEXT NOT NULL,
          expires_at REAL NOT NULL,
          created_by TEXT NOT NULL,
          created_role TEXT NOT NULL,
          created_at REAL NOT NULL,
          deleted_by TEXT,
          deleted_role TEXT,
          deleted_at REAL
        );
        """)
    },
  ]
}

/// An assessment's state, as `JobProgress.State` numbers it.
enum AssessmentState: Int {
  case queued = 1, running = 2, succeeded = 3, failed = 4
}

/// A result's status, as `Result.Status` numbers it.
enum ResultStatus: Int, CaseIterable {
  case pass = 1, fail = 2, notEvaluated = 3, waived = 4, notApplicable = 5
}

struct AssessmentRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "assessment"
  var id: String
  var framework_id: String
  var provider_id: String
  var control_ids: String
  var state: Int
  var requested_by: String
  var requested_role: String
  var requested_at: Double
  var started_at: Double?
  var finished_at: Double?
  var resources_seen: Int
  var message: String
  var error: String
  var previous_id: String
  var summary: String

  var controlIDs: [String] { (try? JSONDecoder().decode([String].self, from: Data(self.control_ids.utf8))) ?? [] }
}

struct ResultRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "result"
  var id: String
  var assessment_id: String
  var control_id: String
  var resource_id: String
  var external_id: String
  var resource_type: String
  var resource_name: String
  var provider_id: String
  var region: String
  var status: Int
  var reason: String
  var paths: String
  var severity: String
  var waiver_id: String
  var change: Int
  var evaluated_at: Double
}

struct WaiverRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "waiver"
  var id: String
  var control_id: String
  var resource_id: String
  var tag_selector: String
  var reason: String
  var expires_at: Double
  var created_by: String
  var created_role: String
  var created_at: Double
  var deleted_by: String?
  var deleted_role: String?
  var deleted_at: Double?

  var tags: [String: String] { (try? JSONDecoder().decode([String: String].self, from: Data(self.tag_selector.utf8))) ?? [:] }

  /// In force at `now`: not deleted, not expired.
  func active(at now: Date) -> Bool { self.deleted_at == nil && self.expires_at > now.timeIntervalSince1970 }

  /// Whether it covers `control` on a resource with this id and these tags.
  func covers(control: String, resourceID: String, tags: [String: String]) -> Bool {
    guard self.control_id == control else { return false }
    if !self.resource_id.isEmpty { return self.resource_id == resourceID }
    let selector = self.tags
    return !selector.isEmpty && selector.allSatisfy { tags[$0.key] == $0.value }
  }
}
