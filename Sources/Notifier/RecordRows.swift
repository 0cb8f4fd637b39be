import Foundation
import GRDB

/// A record on the notifier's hot paths (every event raises an alert and queues a delivery; every
/// attempt writes one and updates its delivery), with its columns listed once, in table order,
/// beside its values. It is written through statements compiled once per connection: GRDB's
/// generic persistence builds its SQL on every call and codes through Codable, and the two were
/// more than a fifth of the notifier's CPU in `scripts/bench-notify`. A column added to a table
/// is added to its list (the notifier's tests read every field back).
protocol ColumnRecord: PersistableRecord {
  static var columns: [String] { get }
  /// `ColumnSQL.insert(Self.self)`, stored once per type.
  static var insertSQL: String { get }
  var values: [(any DatabaseValueConvertible)?] { get }
}

extension ColumnRecord {
  /// The columns, for a SELECT whose rows decode in that order.
  static var selection: String { Self.columns.joined(separator: ", ") }

  func encode(to container: inout PersistenceContainer) {
    for (column, value) in zip(Self.columns, self.values) { container[column] = value }
  }

  /// Inserts the record (fails on a conflict, as `insert` does).
  func write(_ db: Database) throws {
    try db.cachedStatement(sql: Self.insertSQL).execute(arguments: StatementArguments(self.values))
  }
}

/// A column record with an `id` primary key: `rewrite` updates every column of its row.
protocol IdentifiedColumnRecord: ColumnRecord {
  var id: String { get }
  /// `ColumnSQL.update(Self.self)`, stored once per type.
  static var updateSQL: String { get }
}

extension IdentifiedColumnRecord {
  func rewrite(_ db: Database) throws {
    try db.cachedStatement(sql: Self.updateSQL).execute(arguments: StatementArguments(self.values + [self.id]))
  }
}

enum ColumnSQL {
  static func insert<R: ColumnRecord>(_: R.Type) -> String {
    "INSERT INTO \(R.databaseTableName) (\(R.columns.joined(separator: ", "))) VALUES (\(R.columns.map { _ in "?" }.joined(separator: ", ")))"
  }

  static func update<R: IdentifiedColumnRecord>(_: R.Type) -> String {
    "UPDATE \(R.databaseTableName) SET \(R.columns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?"
  }
}

extension AlertRecord: IdentifiedColumnRecord {
  init(row: Row) {
    self.init(
      id: row["id"], title: row["title"], body: row["body"], severity: row["severity"], status: row["status"], event_id: row["event_id"],
      event_type: row["event_type"], subject: row["subject"], source: row["source"], created_at: row["created_at"],
      created_by: row["created_by"], acknowledged_by: row["acknowledged_by"], acknowledged_at: row["acknowledged_at"],
      resolved_by: row["resolved_by"], resolved_at: row["resolved_at"], comment: row["comment"], dedup_key: row["dedup_key"],
      group_key: row["group_key"], count: row["count"], last_seen_at: row["last_seen_at"], resource: row["resource"],
      control_id: row["control_id"], provider_id: row["provider_id"], tags: row["tags"], hint: row["hint"])
  }

  static let columns = [
    "id", "title", "body", "severity", "status", "event_id", "event_type", "subject", "source", "created_at", "created_by",
    "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "comment", "dedup_key", "group_key", "count", "last_seen_at",
    "resource", "control_id", "provider_id", "tags", "hint"
  ]
  static let insertSQL = ColumnSQL.insert(Self.self)
  static let updateSQL = ColumnSQL.update(Self.self)
  var values: [(any DatabaseValueConvertible)?] { [
    self.id, self.title, self.body, self.severity, self.status, self.event_id, self.event_type, self.subject, self.source, self.created_at,
    self.created_by, self.acknowledged_by, self.acknowledged_at, self.resolved_by, self.resolved_at, self.comment, self.dedup_key,
    self.group_key, self.count, self.last_seen_at, self.resource, self.control_id, self.provider_id, self.tags, self.hint
  ] }
}

extension DeliveryRecord: IdentifiedColumnRecord {
  init(row: Row) {
    self.init(
      id: row["id"], channel_id: row["channel_id"], type: row["type"], group_key: row["group_key"], alert_id: row["alert_id"],
      alert_count: row["alert_count"], webhook_id: row["webhook_id"], content: row["content"], status: row["status"],
      attempts: row["attempts"], last_error: row["last_error"], next_attempt_at: row["next_attempt_at"], trigger: row["trigger"],
      queued_at: row["queued_at"], delivered_at: row["delivered_at"], created_at: row["created_at"])
  }

  static let columns = [
    "id", "channel_id", "type", "group_key", "alert_id", "alert_count", "webhook_id", "content", "status", "attempts", "last_error",
    "next_attempt_at", "trigger", "queued_at", "delivered_at", "created_at"
  ]
  static let insertSQL = ColumnSQL.insert(Self.self)
  static let updateSQL = ColumnSQL.update(Self.self)
  var values: [(any DatabaseValueConvertible)?] { [
    self.id, self.channel_id, self.type, self.group_key, self.alert_id, self.alert_count, self.webhook_id, self.content, self.status,
    self.attempts, self.last_error, self.next_attempt_at, self.trigger, self.queued_at, self.delivered_at, self.created_at
  ] }
}

extension AttemptRecord: ColumnRecord {
  static let columns = [
    "delivery_id", "at", "status_code", "latency_ms", "response", "trigger", "succeeded"
  ]
  static let insertSQL = ColumnSQL.insert(Self.self)
  var values: [(any DatabaseValueConvertible)?] { [
    self.delivery_id, self.at, self.status_code, self.latency_ms, self.response, self.trigger, self.succeeded
  ] }
}

extension ChannelRecord {
  init(row: Row) {
    self.init(
      id: row["id"], name: row["name"], kind: row["kind"], settings: row["settings"], sealed: row["sealed"],
      send_resolved: row["send_resolved"], status: row["status"], status_reason: row["status_reason"],
      previous_secret_expires_at: row["previous_secret_expires_at"], failures: row["failures"], breaker_until: row["breaker_until"],
      created_by: row["created_by"], created_role: row["created_role"], created_at: row["created_at"])
  }
}

extension SubscriptionRecord {
  init(row: Row) {
    self.init(
      id: row["id"], channel_id: row["channel_id"], event_types: row["event_types"], min_severity: row["min_severity"],
      provider_id: row["provider_id"], tags: row["tags"], created_by: row["created_by"], created_at: row["created_at"])
  }
}
