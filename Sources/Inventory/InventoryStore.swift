import FixpointCore
import FixpointProtocol
import Foundation
import GRDB

/// inventory's schema: providers (credentials sealed) and resources.
enum InventoryStore {
  static let migrations: [Store.Migration] = [
    Store.Migration("inventory.1-providers-resources") { db in
      try db.execute(sql: """
        CREATE TABLE provider (
          id TEXT PRIMARY KEY,
          kind INTEGER NOT NULL,
          display_name TEXT NOT NULL UNIQUE,
          account_id TEXT NOT NULL,
          regions TEXT NOT NULL,
          status INTEGER NOT NULL,
          role_arn TEXT NOT NULL DEFAULT '',
          access_key_hint TEXT NOT NULL DEFAULT '',
          endpoint TEXT NOT NULL DEFAULT '',
          sealed_credentials BLOB,
          created_at REAL NOT NULL,
          last_synced_at REAL
        );
        CREATE TABLE resource (
          id TEXT PRIMARY KEY,
          external_id TEXT NOT NULL,
          provider_id TEXT NOT NULL REFERENCES provider(id),
          type TEXT NOT NULL,
          region TEXT NOT NULL,
          name TEXT NOT NULL DEFAULT '',
          status INTEGER NOT NULL,
          tags TEXT NOT NULL DEFAULT '{}',
          configuration TEXT NOT NULL DEFAULT '{}',
          content_hash TEXT NOT NULL,
          first_seen_at REAL NOT NULL,
          last_seen_at REAL NOT NULL,
          UNIQUE (provider_id, external_id)
        );
        CREATE INDEX resource_type ON resource (provider_id, type, region);
        """)
    },
    Store.Migration("inventory.2-jobs-baselines-snapshots") { db in
      try db.execute(sql: """
        CREATE TABLE sync_job (
          id TEXT PRIMARY KEY,
          provider_id TEXT NOT NULL REFERENCES provider(id),
          state INTEGER NOT NULL,
          started_at REAL NOT NULL,
          finished_at REAL,
          counters TEXT NOT NULL DEFAULT '{}',
          created INTEGER NOT NULL DEFAULT 0,
          updated INTEGER NOT NULL DEFAULT 0,
          deleted INTEGER NOT NULL DEFAULT 0,
          unchanged INTEGER NOT NULL DEFAULT 0,
          message TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sync_job_provider ON sync_job (provider_id, started_at);
        CREATE TABLE baseline (
          id TEXT PRIMARY KEY,
          resource_id TEXT NOT NULL REFERENCES resource(id),
          configuration TEXT NOT NULL,
          content_hash TEXT NOT NULL,
          captured_by TEXT NOT NULL,
          captured_at REAL NOT NULL,
          reason TEXT NOT NULL,
          comment TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX baseline_resource ON baseline (resource_id, captured_at);
        CREATE TABLE snapshot (
          id TEXT PRIMARY KEY,
          resource_id TEXT NOT NULL REFERENCES resource(id),
          paths TEXT NOT NULL,
          "values" TEXT NOT NULL,
          document TEXT NOT NULL,
          captured_by TEXT NOT NULL,
          captured_at REAL NOT NULL
        );
        """)
    },
    // The snapshot an ApplyChange took, by its request id: a retry reuses it.
    Store.Migration("inventory.3-snapshot-change-request") { db in
      try db.execute(sql: """
        ALTER TABLE snapshot ADD COLUMN change_request_id TEXT;
        CREATE UNIQUE INDEX snapshot_change_request ON snapshot (change_request_id) WHERE change_request_id IS NOT NULL;
        """)
    },
    Store.Migration("inventory.4-resource-names") { db in
      // GetResource by ARN or cloud name across providers.
      try db.execute(sql: """
        CREATE INDEX resource_external ON resource (external_id);
        CREATE INDEX resource_name ON resource (name);
        """)
    },
    Store.Migration("inventory.5-change-role") { db in
      try db.execute(sql: "ALTER TABLE provider ADD COLUMN change_role_arn TEXT NOT NULL DEFAULT ''")
    },
  ]
}

struct ProviderRecord: Codable, FetchableRecord, Sendable {
  var id: String
  var kind: Int
  var display_name: String
  var account_id: String
  var regions: String
  var status: Int
  var role_arn: String
  var access_key_hint: String
  var endpoint: String
  var created_at: Double
  var last_synced_at: Double?
  var change_role_arn: String

  /// The columns that may leave the store: never `sealed_credentials`.
  static let publicColumns = "id, kind, display_name, account_id, regions, status, role_arn, access_key_hint, endpoint, created_at, last_synced_at, change_role_arn"

  var proto: Fixpoint_V1_Provider {
    .with {
      $0.id = self.id
      $0.kind = Fixpoint_V1_ProviderKind(rawValue: self.kind) ?? .unspecified
      $0.displayName = self.display_name
      $0.accountID = self.account_id
      $0.regions = self.regions.split(separator: ",").map(String.init)
      $0.status = Fixpoint_V1_Provider.Status(rawValue: self.status) ?? .unspecified
      $0.roleArn = self.role_arn
      $0.accessKeyHint = self.access_key_hint
      $0.endpoint = self.endpoint
      $0.changeRoleArn = self.change_role_arn
      $0.createdAt = .init(date: Date(timeIntervalSince1970: self.created_at))
      if let at = self.last_synced_at { $0.lastSyncedAt = .init(date: Date(timeIntervalSince1970: at)) }
    }
  }
}

struct ResourceRecord: Codable, FetchableRecord, Sendable {
  var id: String
  var external_id: String
  var provider_id: String
  var type: String
  var region: String
  var name: String
  var status: Int
  var tags: String
  var configuration: String
  var content_hash: String
  var first_seen_at: Double
  var last_seen_at: Double

  func proto() throws -> Fixpoint_V1_Resource {
    var r = Fixpoint_V1_Resource()
    r.id = self.id
    r.externalID = self.external_id
    r.providerID = self.provider_id
    r.type = self.type
    r.region = self.region
    r.name = self.name
    r.status = Fixpoint_V1_Resource.Status(rawValue: self.status) ?? .unspecified
    r.tags = (try? JSONDecoder().decode([String: String].self, from: Data(self.tags.utf8))) ?? [:]
    r.configuration = try .init(jsonString: self.configuration)
    r.contentHash = self.content_hash
    r.firstSeenAt = .init(date: Date(timeIntervalSince1970: self.first_seen_at))
    r.lastSeenAt = .init(date: Date(timeIntervalSince1970: self.last_seen_at))
    return r
  }
}
