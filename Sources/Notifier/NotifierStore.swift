import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import SwiftProtobuf

/// The notifier's schema.
enum NotifierStore {
  static let migrations: [Store.Migration] = [
    Store.Migration("notifier.1-alerts") { db in
      try db.execute(sql: """
        CREATE TABLE alert (
          id TEXT PRIMARY KEY,
          title TEXT NOT NULL,
          body TEXT NOT NULL,
          severity INTEGER NOT NULL,
          status INTEGER NOT NULL,
          event_id TEXT UNIQUE,
          event_type TEXT NOT NULL DEFAULT '',
          subject TEXT NOT NULL DEFAULT '',
          source TEXT NOT NULL DEFAULT '',
          created_at REAL NOT NULL,
          created_by TEXT NOT NULL DEFAULT '',
          acknowledged_by TEXT, acknowledged_at REAL,
          resolved_by TEXT, resolved_at REAL,
          comment TEXT
        );
        CREATE INDEX alert_created ON alert (created_at);
        """)
    },
    Store.Migration("notifier.2-delivery") { db in
      // Alerts raised before this migration were one per event; they keep a null dedup key.
      try db.execute(sql: """
        ALTER TABLE alert ADD COLUMN dedup_key TEXT;
        ALTER TABLE alert ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE alert ADD COLUMN last_seen_at REAL;
        ALTER TABLE alert ADD COLUMN resource TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert ADD COLUMN control_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert ADD COLUMN provider_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE alert ADD COLUMN hint TEXT NOT NULL DEFAULT '';
        CREATE UNIQUE INDEX alert_open_key ON alert (dedup_key) WHERE status != 3 AND dedup_key IS NOT NULL;
        CREATE INDEX alert_by_group ON alert (group_key, status);

        CREATE TABLE channel (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          kind INTEGER NOT NULL,
          -- What may be shown: the webhook URL, the Slack host, the SMTP settings and recipients (JSON).
          settings TEXT NOT NULL,
          -- AES-GCM under the master key, bound to the id: signing secrets, the Slack URL, the SMTP password.
          sealed BLOB NOT NULL,
          send_resolved INTEGER NOT NULL,
          status INTEGER NOT NULL DEFAULT 1,
          status_reason TEXT NOT NULL DEFAULT '',
          previous_secret_expires_at REAL,
          failures INTEGER NOT NULL DEFAULT 0,
          breaker_until REAL,
          created_by TEXT NOT NULL,
          created_role TEXT NOT NULL DEFAULT '',
          created_at REAL NOT NULL
        );

        CREATE TABLE subscription (
          id TEXT PRIMARY KEY,
          channel_id TEXT NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
          event_types TEXT NOT NULL,
          min_severity INTEGER NOT NULL,
          provider_id TEXT NOT NULL DEFAULT '',
          tags TEXT NOT NULL DEFAULT '{}',
          created_by TEXT NOT NULL,
          created_at REAL NOT NULL
        );
        CREATE INDEX subscription_channel ON subscription (channel_id);

        -- Per channel and group key: what was last sent, and when the group is next looked at.
        CREATE TABLE alert_group (
          channel_id TEXT NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
          group_key TEXT NOT NULL,
          next_flush_at REAL,
          last_sent_at REAL,
          sent_alerts TEXT NOT NULL DEFAULT '[]',
          PRIMARY KEY (channel_id, group_key)
        );
        CREATE INDEX alert_group_due ON alert_group (next_flush_at) WHERE next_flush_at IS NOT NULL;

        -- One notification to one channel. Written in the transaction that decides to send it.
        CREATE TABLE delivery (
          id TEXT PRIMARY KEY,
          channel_id TEXT NOT NULL,
          type TEXT NOT NULL,
          group_key TEXT NOT NULL DEFAULT '',
          alert_id TEXT NOT NULL DEFAULT '',
          alert_count INTEGER NOT NULL DEFAULT 0,
          webhook_id TEXT NOT NULL,
          content TEXT NOT NULL,
          status INTEGER NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          last_error TEXT NOT NULL DEFAULT '',
          next_attempt_at REAL NOT NULL,
          -- What the next attempt is: scheduled, manual (a redelivery) or test.
          trigger TEXT NOT NULL DEFAULT 'scheduled',
          -- When it was (re)queued: the maximum age counts from here.
          queued_at REAL NOT NULL,
          delivered_at REAL,
          created_at REAL NOT NULL
        );
        CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE status IN (1, 3);
        CREATE INDEX delivery_channel ON delivery (channel_id, created_at);

        CREATE TABLE delivery_attempt (
          delivery_id TEXT NOT NULL REFERENCES delivery (id) ON DELETE CASCADE,
          at REAL NOT NULL,
          status_code INTEGER NOT NULL,
          latency_ms INTEGER NOT NULL,
          response TEXT NOT NULL,
          trigger TEXT NOT NULL,
          succeeded INTEGER NOT NULL
        );
        CREATE INDEX delivery_attempt_delivery ON delivery_attempt (delivery_id, at);
        """)
    },
  ]
}

/// One alert, as stored.
struct AlertRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "alert"
  var id: String
  var title: String
  var body: String
  var severity: Int
  var status: Int
  var event_id: String?
  var event_type: String
  var subject: String
  var source: String
  var created_at: Double
  var created_by: String
  var acknowledged_by: String?
  var acknowledged_at: Double?
  var resolved_by: String?
  var resolved_at: Double?
  var comment: String?
  var dedup_key: String?
  var group_key: String = ""
  var count: Int = 1
  var last_seen_at: Double?
  var resource: String = ""
  var control_id: String = ""
  var provider_id: String = ""
  var tags: String = "{}"
  var hint: String = ""
}

/// Alerts: raised from events through the rule table (a repeat counts on the open alert with the
/// same dedup key), created by hand, acknowledged and resolved by people or by the event that
/// clears the condition. Every change that a notification should tell goes to `AlertGroups` in
/// the same transaction.
struct AlertStore: Sendable {
  let store: Store
  let rules: AlertRules
  let groups: AlertGroups

  /// Applies an incoming event. Runs inside the inbox transaction, so once per event id.
  func apply(_ event: Fixpoint_V1_Event, in db: Database) throws {
    let now = Date().timeIntervalSince1970
    switch self.rules.signal(for: event) {
    case .none:
      return
    case .raise(let facts):
      try self.raise(facts, eventID: event.id, subject: event.subject, source: event.source, in: db, now: now)
    case .clear(let keys, let reason):
      for key in keys {
        guard let open = try AlertRecord.fetchOne(db, cachedSQL: "SELECT * FROM alert WHERE dedup_key = ? AND status != 3", arguments: [key]) else {
          continue
        }
        try self.close(open, by: event.source, comment: reason, in: db, now: now)
      }
    }
  }

  /// Raises `facts`, or counts a repeat on the open alert with its dedup key. An open alert of
  /// another type under the same key (an action that waited for approval and then failed) is
  /// resolved and a new one raised, so the change is told.
  func raise(_ facts: AlertFacts, eventID: String?, subject: String, source: String, in db: Database, now: Double) throws {
    if var open = try AlertRecord.fetchOne(db, cachedSQL: "SELECT * FROM alert WHERE dedup_key = ? AND status != 3", arguments: [facts.dedupKey]) {
      if open.event_type == facts.type {
        open.count += 1
        open.last_seen_at = now
        (open.title, open.body, open.severity, open.hint) = (facts.title, facts.body, facts.severity.rawValue, facts.hint)
        try open.rewrite(db)
        return
      }
      try self.close(open, by: source, comment: "superseded by \(facts.type)", in: db, now: now)
    }
    let severity = facts.severity
    let record = AlertRecord(
      id: RandomID.make(prefix: "alr"), title: facts.title, body: facts.body, severity: severity.rawValue,
      status: Fixpoint_V1_Alert.Status.open.rawValue, event_id: eventID, event_type: facts.type, subject: subject, source: source,
      created_at: now, created_by: source, dedup_key: facts.dedupKey,
      group_key: self.groups.policy.key(
        type: facts.type, provider: facts.providerID, resource: facts.resource, control: facts.controlID, severity: severity,
        dedupKey: facts.dedupKey),
      count: 1, last_seen_at: now, resource: facts.resource, control_id: facts.controlID, provider_id: facts.providerID,
      tags: try Tags.encode(facts.tags), hint: facts.hint)
    try record.write(db)
    try self.groups.changed(record, in: db, now: now)
  }

  /// Resolves an alert (by a person or by the clearing event) and tells its groups.
  func close(_ alert: AlertRecord, by actor: String, comment: String, in db: Database, now: Double) throws {
    var alert = alert
    alert.status = Fixpoint_V1_Alert.Status.resolved.rawValue
    alert.resolved_by = actor
    alert.resolved_at = now
    if !comment.isEmpty { alert.comment = comment }
    try alert.rewrite(db)
    try self.groups.changed(alert, in: db, now: now)
  }

  /// Creates an alert by hand. A retry with the same `request_id` returns the first answer.
  func create(_ request: Fixpoint_V1_CreateAlertRequest, by principal: Principal) async throws -> Fixpoint_V1_Alert {
    try Validate.text(request.title, field: "title", max: 200)
    try Validate.text(request.body, field: "body", max: 10_000, required: false)
    try Validate.text(request.subject, field: "subject", max: 256, required: false)
    guard let severity = AlertSeverity(rawValue: request.severity.rawValue) else {
      throw ServiceError.invalidArgument(field: "severity", reason: "required: info, low, medium, high or critical")
    }
    let groups = self.groups
    return try await RequestLog.once(self.store, method: "CreateAlert", request: request, requestID: request.requestID) { db in
      let now = Date().timeIntervalSince1970
      let id = RandomID.make(prefix: "alr")
      let record = AlertRecord(
        id: id, title: request.title, body: request.body, severity: severity.rawValue,
        status: Fixpoint_V1_Alert.Status.open.rawValue, event_id: nil, event_type: "manual", subject: request.subject,
        source: "manual", created_at: now, created_by: principal.subject, dedup_key: nil,
        group_key: groups.policy.key(type: "manual", provider: "", resource: request.subject, control: "", severity: severity, dedupKey: id),
        count: 1, last_seen_at: now, resource: request.subject, hint: "fixpoint alerts resolve \(id)")
      try record.write(db)
      try groups.changed(record, in: db, now: now)
      return record.proto
    }
  }

  func list(_ request: Fixpoint_V1_ListAlertsRequest) async throws -> ([AlertRecord], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: StatementArguments = []
    if request.status != .unspecified {
      guard Fixpoint_V1_Alert.Status.allCases.contains(request.status) else {
        throw ServiceError.invalidArgument(field: "status", reason: "open, acknowledged or resolved")
      }
      conditions.append("status = ?")
      _ = arguments.append(contentsOf: [request.status.rawValue])
    }
    if request.minSeverity != .unspecified {
      guard AlertSeverity(rawValue: request.minSeverity.rawValue) != nil else {
        throw ServiceError.invalidArgument(field: "min_severity", reason: "info, low, medium, high or critical")
      }
      conditions.append("severity >= ?")
      _ = arguments.append(contentsOf: [request.minSeverity.rawValue])
    }
    if !request.eventType.isEmpty {
      try Validate.text(request.eventType, field: "event_type", max: 128)
      conditions.append("event_type = ?")
      _ = arguments.append(contentsOf: [request.eventType])
    }
    if !request.groupKey.isEmpty {
      try Validate.text(request.groupKey, field: "group_key", max: 1024)
      conditions.append("group_key = ?")
      _ = arguments.append(contentsOf: [request.groupKey])
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    _ = arguments.append(contentsOf: [page.size, page.offset])
    let bound = arguments
    let rows = try await self.store.read { db in
      try AlertRecord.fetchAll(db, sql: "SELECT * FROM alert \(whereClause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
    }
    return (rows, page)
  }

  func get(_ id: String) async throws -> AlertRecord {
    try Validate.id(id, field: "alert_id", prefix: "alr")
    guard let record = try await self.store.read({ db in
      try AlertRecord.fetchOne(db, cachedSQL: "SELECT * FROM alert WHERE id = ?", arguments: [id])
    }) else {
      throw ServiceError.notFound(kind: "alert", id: id)
    }
    return record
  }

  /// Moves an alert to acknowledged or resolved. Resolved is final; acknowledging twice is refused.
  /// An acknowledged alert is no longer repeated in notifications; a resolved one is told as
  /// resolved to channels that ask for resolutions.
  /// A retry with the same `request_id` returns the first answer instead of failing on the new state.
  func transition(
    _ id: String, to status: Fixpoint_V1_Alert.Status, comment: String, request: some SwiftProtobuf.Message, requestID: String,
    by principal: Principal
  ) async throws -> Fixpoint_V1_Alert {
    try Validate.id(id, field: "alert_id", prefix: "alr")
    try Validate.text(comment, field: "comment", max: 2000, required: false)
    let method = status == .acknowledged ? "AcknowledgeAlert" : "ResolveAlert"
    let store = self
    return try await RequestLog.once(self.store, method: method, request: request, requestID: requestID) { db in
      guard var record = try AlertRecord.fetchOne(db, key: id) else { throw ServiceError.notFound(kind: "alert", id: id) }
      let current = Fixpoint_V1_Alert.Status(rawValue: record.status) ?? .unspecified
      let allowed: Bool = switch (current, status) {
      case (.open, .acknowledged), (.open, .resolved), (.acknowledged, .resolved): true
      default: false
      }
      guard allowed else {
        throw ServiceError.failedPrecondition("alert \(id) is \(current.name) and cannot become \(status.name)")
      }
      let now = Date().timeIntervalSince1970
      if status == .acknowledged {
        record.status = status.rawValue
        record.acknowledged_by = principal.subject
        record.acknowledged_at = now
        if !comment.isEmpty { record.comment = comment }
        try record.rewrite(db)
      } else {
        try store.close(record, by: principal.subject, comment: comment, in: db, now: now)
        record = try AlertRecord.fetchOne(db, key: id) ?? record
      }
      return record.proto
    }
  }
}

extension Fixpoint_V1_Alert.Status {
  var name: String {
    switch self {
    case .open: "open"
    case .acknowledged: "acknowledged"
    case .resolved: "resolved"
    default: "unspecified"
    }
  }
}

extension AlertRecord {
  /// The wire form.
  var proto: Fixpoint_V1_Alert {
    .with { a in
      a.id = self.id
      a.title = self.title
      a.body = self.body
      a.severity = Fixpoint_V1_Severity(rawValue: self.severity) ?? .unspecified
      a.status = Fixpoint_V1_Alert.Status(rawValue: self.status) ?? .unspecified
      a.eventID = self.event_id ?? ""
      a.eventType = self.event_type
      a.subject = self.subject
      a.source = self.source
      a.createdAt = .init(date: Date(timeIntervalSince1970: self.created_at))
      if let by = self.acknowledged_by, let at = self.acknowledged_at {
        a.acknowledged = .with { $0.subject = by; $0.time = .init(date: Date(timeIntervalSince1970: at)) }
      }
      if let by = self.resolved_by, let at = self.resolved_at {
        a.resolved = .with { $0.subject = by; $0.time = .init(date: Date(timeIntervalSince1970: at)) }
      }
      a.dedupKey = self.dedup_key ?? ""
      a.count = Int32(clamping: self.count)
      a.lastSeenAt = .init(date: Date(timeIntervalSince1970: self.last_seen_at ?? self.created_at))
      a.groupKey = self.group_key
      a.resource = self.resource
      a.controlID = self.control_id
      a.providerID = self.provider_id
    }
  }
}
