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
    }
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
}

/// Alerts: created by hand or raised from events, then acknowledged and resolved.
struct AlertStore: Sendable {
  let store: Store

  /// Raises an alert for an incoming event. Runs inside the inbox transaction, so once per event.
  func raise(from event: Fixpoint_V1_Event, in db: Database) throws {
    let record = AlertRecord(
      id: RandomID.make(prefix: "alr"), title: Self.title(for: event), body: event.textFormatString(),
      severity: event.severity.rawValue, status: Fixpoint_V1_Alert.Status.open.rawValue, event_id: event.id,
      event_type: event.type, subject: event.subject, source: event.source,
      created_at: Date().timeIntervalSince1970, created_by: event.source)
    try record.insert(db)
  }

  static func title(for event: Fixpoint_V1_Event) -> String {
    switch event.payload {
    case .findingSubmitted(let f): "Finding \(f.controlID.isEmpty ? f.findingType : f.controlID) on \(f.resource.externalID.isEmpty ? f.resource.resourceID : f.resource.externalID)"
    case .remediation(let r): "Remediation \(r.actionID): \(r.fromState) → \(r.toState)"
    default: "\(event.type) \(event.subject)"
    }
  }

  /// Creates an alert by hand. A retry with the same `request_id` returns the first answer.
  func create(_ request: Fixpoint_V1_CreateAlertRequest, by principal: Principal) async throws -> Fixpoint_V1_Alert {
    try Validate.text(request.title, field: "title", max: 200)
    try Validate.text(request.body, field: "body", max: 10_000, required: false)
    try Validate.text(request.subject, field: "subject", max: 256, required: false)
    guard (1...5).contains(request.severity.rawValue) else { throw ServiceError.invalidArgument(field: "severity", reason: "required: info, low, medium, high or critical") }
    let record = AlertRecord(
      id: RandomID.make(prefix: "alr"), title: request.title, body: request.body, severity: request.severity.rawValue,
      status: Fixpoint_V1_Alert.Status.open.rawValue, event_id: nil, event_type: "", subject: request.subject,
      source: "manual", created_at: Date().timeIntervalSince1970, created_by: principal.subject)
    return try await RequestLog.once(self.store, method: "CreateAlert", request: request, requestID: request.requestID) { db in
      try record.insert(db)
      return record.proto
    }
  }

  func list(_ request: Fixpoint_V1_ListAlertsRequest) async throws -> ([AlertRecord], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: StatementArguments = []
    if request.status != .unspecified {
      conditions.append("status = ?")
      _ = arguments.append(contentsOf: [request.status.rawValue])
    }
    if request.minSeverity != .unspecified {
      conditions.append("severity >= ?")
      _ = arguments.append(contentsOf: [request.minSeverity.rawValue])
    }
    if !request.eventType.isEmpty {
      try Validate.text(request.eventType, field: "event_type", max: 128)
      conditions.append("event_type = ?")
      _ = arguments.append(contentsOf: [request.eventType])
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    _ = arguments.append(contentsOf: [page.size, page.offset])
    let bound = arguments
    let rows = try await self.store.pool.read { db in
      try AlertRecord.fetchAll(db, sql: "SELECT * FROM alert \(whereClause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
    }
    return (rows, page)
  }

  func get(_ id: String) async throws -> AlertRecord {
    try Validate.id(id, field: "alert_id", prefix: "alr")
    guard let record = try await self.store.pool.read({ db in
      try AlertRecord.fetchOne(db, cachedSQL: "SELECT * FROM alert WHERE id = ?", arguments: [id])
    }) else {
      throw ServiceError.notFound(kind: "alert", id: id)
    }
    return record
  }

  /// Moves an alert to acknowledged or resolved. Resolved is final; acknowledging twice is refused.
  /// A retry with the same `request_id` returns the first answer instead of failing on the new state.
  func transition(
    _ id: String, to status: Fixpoint_V1_Alert.Status, comment: String, request: some SwiftProtobuf.Message, requestID: String,
    by principal: Principal
  ) async throws -> Fixpoint_V1_Alert {
    try Validate.id(id, field: "alert_id", prefix: "alr")
    try Validate.text(comment, field: "comment", max: 2000, required: false)
    let method = status == .acknowledged ? "AcknowledgeAlert" : "ResolveAlert"
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
      record.status = status.rawValue
      if status == .acknowledged {
        record.acknowledged_by = principal.subject
        record.acknowledged_at = now
      } else {
        record.resolved_by = principal.subject
        record.resolved_at = now
      }
      if !comment.isEmpty { record.comment = comment }
      try record.update(db)
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
    }
  }
}
