import FixpointCore
import FixpointProtocol
import Foundation
import GRDB

/// One delivery as stored: a notification to one channel, with its retry state.
struct DeliveryRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "delivery"
  var id: String
  var channel_id: String
  var type: String
  var group_key: String
  var alert_id: String
  var alert_count: Int
  var webhook_id: String
  var content: String
  var status: Int
  var attempts: Int
  var last_error: String
  var next_attempt_at: Double
  var trigger: String
  var queued_at: Double
  var delivered_at: Double?
  var created_at: Double

  enum Status: Int {
    case pending = 1, delivered = 2, retrying = 3, dead = 4
  }

  var decodedContent: NotificationContent? { try? JSONDecoder().decode(NotificationContent.self, from: Data(self.content.utf8)) }
}

/// A delivery's retry state: what recording an attempt reads and writes, without its content.
struct DeliveryState: Sendable {
  var id: String
  var channel_id: String
  var trigger: String
  var queued_at: Double
  var attempts: Int
  var status: Int
  var last_error: String
  var next_attempt_at: Double
  var delivered_at: Double?

  static func fetch(_ id: String, in db: Database) throws -> DeliveryState? {
    try Row.fetchOne(
      db.cachedStatement(sql: "SELECT channel_id, trigger, queued_at, attempts, status, last_error, next_attempt_at, delivered_at FROM delivery WHERE id = ?"),
      arguments: [id]
    ).map { row in
      DeliveryState(
        id: id, channel_id: row[0], trigger: row[1], queued_at: row[2], attempts: row[3], status: row[4], last_error: row[5],
        next_attempt_at: row[6], delivered_at: row[7])
    }
  }

  func write(_ db: Database) throws {
    try db.cachedStatement(sql: "UPDATE delivery SET attempts = ?, status = ?, last_error = ?, next_attempt_at = ?, delivered_at = ? WHERE id = ?")
      .execute(arguments: [self.attempts, self.status, self.last_error, self.next_attempt_at, self.delivered_at, self.id])
  }
}

/// One try at a delivery.
struct AttemptRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "delivery_attempt"
  var delivery_id: String
  var at: Double
  var status_code: Int
  var latency_ms: Int
  var response: String
  var trigger: String
  var succeeded: Bool
}

/// What one attempt came to, as a channel's rules read the answer.
enum SendOutcome: Sendable, Equatable {
  case delivered
  /// Worth trying again; `after` is the receiver's Retry-After.
  case retry(after: Double?)
  /// Refused for good: the dead letter. `disable` also stops the channel (410 Gone).
  case dead(disable: Bool)
}

/// The record of one attempt: the outcome plus what the log shows.
struct AttemptResult: Sendable {
  var deliveryID: String
  var outcome: SendOutcome
  var statusCode: Int
  var latencyMS: Int
  var response: String
  var trigger: String
  var at: Double
}

/// When to try again: exponential backoff with full jitter, `U(0, min(cap, base·2^(n−1)))`
/// after the n-th failure, never sooner than the receiver's Retry-After, and no more tries
/// after `maxAttempts` or once the delivery is `maxAge` old (then the dead letter).
struct DeliveryBackoff: Sendable, Equatable {
  var base: Double
  var cap: Double
  var maxAttempts: Int
  var maxAge: Double

  /// The next attempt's time, or nil when the delivery is out of attempts or too old.
  func next(afterFailure attempts: Int, queuedAt: Double, now: Double, retryAfter: Double?, random: Double) -> Double? {
    guard attempts < self.maxAttempts else { return nil }
    let ceiling = min(self.cap, self.base * pow(2, Double(max(0, attempts - 1))))
    let delay = max(ceiling * random, min(retryAfter ?? 0, 86_400))
    let at = now + delay
    return at - queuedAt > self.maxAge ? nil : at
  }
}

/// Deliveries: queued by the grouping, sent by the worker, listed and redelivered by operators.
struct Deliveries: Sendable {
  let store: Store

  /// Queues a notification to a channel, in the caller's transaction, due at `due` (now unless
  /// given). Its webhook-id is fixed here and kept across every attempt and redelivery.
  @discardableResult
  static func queue(
    _ content: NotificationContent, channel: String, alertID: String, alertCount: Int, trigger: String = "scheduled", due: Double? = nil,
    in db: Database, now: Double
  ) throws -> DeliveryRecord {
    let id = RandomID.make(prefix: "dlv")
    let record = DeliveryRecord(
      id: id, channel_id: channel, type: content.type, group_key: content.group_key, alert_id: alertID, alert_count: alertCount,
      webhook_id: "msg_" + id.dropFirst(4), content: content.json,
      status: DeliveryRecord.Status.pending.rawValue, attempts: 0, last_error: "", next_attempt_at: due ?? now, trigger: trigger,
      queued_at: now, delivered_at: nil, created_at: now)
    try record.write(db)
    return record
  }

  static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }()

  func list(_ request: Fixpoint_V1_ListDeliveriesRequest) async throws -> ([Fixpoint_V1_Delivery], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: StatementArguments = []
    if !request.channelID.isEmpty {
      try Validate.id(request.channelID, field: "channel_id", prefix: "chn")
      conditions.append("channel_id = ?")
      _ = arguments.append(contentsOf: [request.channelID])
    }
    if request.status != .unspecified {
      guard DeliveryRecord.Status(rawValue: request.status.rawValue) != nil else {
        throw ServiceError.invalidArgument(field: "status", reason: "pending, delivered, retrying or dead")
      }
      conditions.append("status = ?")
      _ = arguments.append(contentsOf: [request.status.rawValue])
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    _ = arguments.append(contentsOf: [page.size, page.offset])
    let bound = arguments
    let rows = try await self.store.read { db in
      let rows = try DeliveryRecord.fetchAll(
        db, sql: "SELECT * FROM delivery \(whereClause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
      return try rows.map { try $0.proto(attempts: Self.attempts(of: $0.id, in: db)) }
    }
    return (rows, page)
  }

  static func attempts(of id: String, in db: Database) throws -> [AttemptRecord] {
    try AttemptRecord.fetchAll(
      db, sql: "SELECT * FROM (SELECT * FROM delivery_attempt WHERE delivery_id = ? ORDER BY at DESC LIMIT 50) ORDER BY at", arguments: [id])
  }

  func get(_ id: String) async throws -> Fixpoint_V1_Delivery {
    try Validate.id(id, field: "delivery_id", prefix: "dlv")
    return try await self.store.read { db in
      guard let record = try DeliveryRecord.fetchOne(db, key: id) else { throw ServiceError.notFound(kind: "delivery", id: id) }
      return try record.proto(attempts: Self.attempts(of: id, in: db))
    }
  }

  /// Queues a dead or delivered delivery again now, with the same webhook-id, so a receiver that
  /// has it already can drop the repeat. Its attempts start again; the log keeps the old ones.
  func redeliver(_ request: Fixpoint_V1_RedeliverDeliveryRequest) async throws -> Fixpoint_V1_Delivery {
    try Validate.id(request.deliveryID, field: "delivery_id", prefix: "dlv")
    return try await RequestLog.once(self.store, method: "RedeliverDelivery", request: request, requestID: request.requestID) { db in
      guard var record = try DeliveryRecord.fetchOne(db, key: request.deliveryID) else {
        throw ServiceError.notFound(kind: "delivery", id: request.deliveryID)
      }
      guard record.status == DeliveryRecord.Status.dead.rawValue || record.status == DeliveryRecord.Status.delivered.rawValue else {
        throw ServiceError.failedPrecondition("delivery \(record.id) is \(record.statusName): only dead or delivered ones are redelivered")
      }
      guard let channel = try ChannelRecord.fetchOne(db, key: record.channel_id) else {
        throw ServiceError.failedPrecondition("channel \(record.channel_id) was deleted")
      }
      guard channel.status == 1 else {
        throw ServiceError.failedPrecondition("channel \(channel.id) is disabled (\(channel.status_reason)); create it again")
      }
      let now = Date().timeIntervalSince1970
      (record.status, record.attempts, record.next_attempt_at, record.trigger, record.queued_at, record.last_error) =
        (DeliveryRecord.Status.pending.rawValue, 0, now, "manual", now, "")
      try record.update(db)
      return try record.proto(attempts: Self.attempts(of: record.id, in: db))
    }
  }
}

extension DeliveryRecord {
  var statusName: String {
    switch Status(rawValue: self.status) {
    case .pending: "pending"
    case .delivered: "delivered"
    case .retrying: "retrying"
    case .dead: "dead"
    case nil: "unknown"
    }
  }

  func proto(attempts: [AttemptRecord]) throws -> Fixpoint_V1_Delivery {
    .with { d in
      d.id = self.id
      d.channelID = self.channel_id
      d.alertID = self.alert_id
      d.status = Fixpoint_V1_Delivery.Status(rawValue: self.status) ?? .unspecified
      d.attempts = Int32(clamping: self.attempts)
      d.lastError = self.last_error
      if self.status == Status.pending.rawValue || self.status == Status.retrying.rawValue {
        d.nextAttemptAt = .init(date: Date(timeIntervalSince1970: self.next_attempt_at))
      }
      if let at = self.delivered_at { d.deliveredAt = .init(date: Date(timeIntervalSince1970: at)) }
      d.createdAt = .init(date: Date(timeIntervalSince1970: self.created_at))
      d.webhookID = self.webhook_id
      d.type = self.type
      d.groupKey = self.group_key
      d.alertCount = Int32(clamping: self.alert_count)
      d.attemptLog = attempts.map { a in
        .with {
          $0.time = .init(date: Date(timeIntervalSince1970: a.at))
          $0.statusCode = Int32(clamping: a.status_code)
          $0.latencyMs = Int32(clamping: a.latency_ms)
          $0.response = a.response
          $0.trigger = a.trigger
          $0.succeeded = a.succeeded
        }
      }
    }
  }
}
