import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Turns alert changes into notifications, per channel and group key: the group's state
/// (`alert_group`) is written in the transaction that changes the alert, and the delivery in
/// the transaction that decides to send, so a crash between the two loses nothing.
struct AlertGroups: Sendable {
  let policy: GroupingPolicy
  let memo = ChannelMemo()

  /// Grouping over `store`, whose writer tells the channel memo of every change and transaction end.
  init(policy: GroupingPolicy, store: Store) {
    self.policy = policy
    store.pool.add(transactionObserver: self.memo, extent: .databaseLifetime)
  }

  /// An alert was raised or resolved: every channel subscribed to it looks at its group again,
  /// after `wait` for a new group or `interval` since its last message. With `wait` 0 a group
  /// that is due is sent in this same transaction.
  func changed(_ alert: AlertRecord, in db: Database, now: Double) throws {
    for (channel, filters) in try self.channels(for: alert, in: db) {
      let state = try GroupState.fetch(channel: channel.id, group: alert.group_key, in: db)
      let next = self.policy.nextFlush(now: now, existing: state.map { (next: $0.nextFlush, lastSent: $0.lastSent) })
      // Only "send at once" sends inside the change's transaction; with a wait, a slow batch must
      // not flush half of itself: the clock flushes after the commit.
      if self.policy.wait == 0 && next <= now {
        try self.flush(channel: channel, group: alert.group_key, state: state ?? GroupState(), filters: filters, in: db, now: now)
      } else {
        try db.cachedStatement(sql: """
          INSERT INTO alert_group (channel_id, group_key, next_flush_at) VALUES (?, ?, ?)
          ON CONFLICT (channel_id, group_key) DO UPDATE SET next_flush_at = excluded.next_flush_at
          """).execute(arguments: [channel.id, alert.group_key, next])
      }
    }
  }

  /// The active channels with a subscription that matches the alert, with their subscriptions' filters.
  func channels(for alert: AlertRecord, in db: Database) throws -> [(ChannelRecord, [SubscriptionFilter])] {
    try self.memo.channels(in: db).filter { alert.goes(to: $0.0.id, under: $0.1) }
  }

  /// Looks at one group of one channel now, from its stored `state`: sends what changed
  /// (Alertmanager's rules), or nothing; then stores when to look again (the repeat) or forgets
  /// the group when nothing fires. Returns whether a delivery was queued.
  @discardableResult
  func flush(
    channel: ChannelRecord, group: String, state: GroupState, filters: [SubscriptionFilter], in db: Database, now: Double
  ) throws -> Bool {
    let sent = Set(state.sent)
    let firing = try AlertRecord.fetchAll(db.cachedStatement(sql: "SELECT * FROM alert WHERE group_key = ? AND status = 1"), arguments: [group])
      .filter { $0.goes(to: channel.id, under: filters) }
    let firingIDs = Set(firing.map(\.id))
    let gone = sent.subtracting(firingIDs)
    let resolved = gone.isEmpty ? [] : try AlertRecord.fetchAll(db, keys: gone.sorted()).filter { $0.status == 3 }
    let decision = self.policy.decide(
      firing: firingIDs, sent: sent, resolvedSinceSent: Set(resolved.map(\.id)), sendResolved: channel.send_resolved, lastSent: state.lastSent,
      now: now)
    var queued = false
    var sentAt = state.lastSent
    if case .send(let repeatOnly) = decision, !(firing.isEmpty && !channel.send_resolved) {
      let content = NotificationContent.make(
        group: group, firing: firing.map(\.entry), resolved: channel.send_resolved ? resolved.map(\.entry) : [], repeatOnly: repeatOnly,
        at: Date(timeIntervalSince1970: now))
      try Deliveries.queue(content, channel: channel.id, alertID: firing.count + resolved.count == 1 ? (firing.first ?? resolved[0]).id : "",
                           alertCount: firing.count + resolved.count, in: db, now: now)
      queued = true
      sentAt = now
    }
    if firing.isEmpty {
      try db.cachedStatement(sql: "DELETE FROM alert_group WHERE channel_id = ? AND group_key = ?").execute(arguments: [channel.id, group])
    } else {
      try db.cachedStatement(sql: """
        INSERT INTO alert_group (channel_id, group_key, last_sent_at, sent_alerts, next_flush_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (channel_id, group_key) DO UPDATE SET
          last_sent_at = excluded.last_sent_at, sent_alerts = excluded.sent_alerts, next_flush_at = excluded.next_flush_at
        """).execute(arguments: [channel.id, group, sentAt, IDList.encode(firingIDs.sorted()), (sentAt ?? now) + self.policy.repeatInterval])
    }
    return queued
  }

  /// Flushes every group whose time has come; returns how many deliveries were queued.
  func flushDue(_ store: Store, now: Double) async throws -> Int {
    try await store.write { db in
      let due = try Row.fetchAll(
        db.cachedStatement(sql: """
          SELECT channel_id, group_key, next_flush_at, last_sent_at, sent_alerts FROM alert_group
          WHERE next_flush_at <= ? ORDER BY next_flush_at LIMIT 500
          """), arguments: [now])
      var queued = 0
      for row in due {
        let channelID: String = row["channel_id"]
        guard let channel = try ChannelRecord.fetchOne(db, key: channelID), channel.status == 1 else {
          try db.cachedStatement(sql: "DELETE FROM alert_group WHERE channel_id = ?").execute(arguments: [channelID])
          continue
        }
        let group: String = row["group_key"]
        let filters = try SubscriptionRecord.fetchAll(
          db.cachedStatement(sql: "SELECT * FROM subscription WHERE channel_id = ?"), arguments: [channel.id]
        ).map(\.filter)
        let state = GroupState(row: row)
        if try self.flush(channel: channel, group: group, state: state, filters: filters, in: db, now: now) { queued += 1 }
      }
      return queued
    }
  }
}

/// The active channels and their subscriptions' filters, read once per write transaction (an
/// intake batch of 1,000 events read them 1,000 times). Forgotten at every commit and rollback
/// and whenever a channel or subscription row changes, so it never serves a row the transaction
/// has since changed. Used from write transactions only (`changed` writes).
final class ChannelMemo: TransactionObserver, Sendable {
  private let entries = Mutex<[(ChannelRecord, [SubscriptionFilter])]?>(nil)

  func channels(in db: Database) throws -> [(ChannelRecord, [SubscriptionFilter])] {
    if let known = self.entries.withLock({ $0 }) { return known }
    let subscriptions = try SubscriptionRecord.fetchAll(db.cachedStatement(sql: "SELECT * FROM subscription ORDER BY channel_id"))
    let byChannel = Dictionary(grouping: subscriptions, by: \.channel_id).mapValues { $0.map(\.filter) }
    let read = try byChannel.keys.sorted().compactMap { id -> (ChannelRecord, [SubscriptionFilter])? in
      guard let channel = try ChannelRecord.fetchOne(db, cachedSQL: "SELECT * FROM channel WHERE id = ?", arguments: [id]), channel.status == 1
      else { return nil }
      return (channel, byChannel[id] ?? [])
    }
    self.entries.withLock { $0 = read }
    return read
  }

  private func forget() { self.entries.withLock { $0 = nil } }

  func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { ["channel", "subscription"].contains(eventKind.tableName) }
  func databaseDidChange() { self.forget() }
  func databaseDidChange(with event: DatabaseEvent) { self.forget() }
  func databaseDidCommit(_ db: Database) { self.forget() }
  func databaseDidRollback(_ db: Database) { self.forget() }
}

/// A group's row in `alert_group`, per channel.
struct GroupState: Sendable {
  var nextFlush: Double?
  var lastSent: Double?
  /// The alert ids the last message named.
  var sent: [String] = []

  static func fetch(channel: String, group: String, in db: Database) throws -> GroupState? {
    try Row.fetchOne(
      db.cachedStatement(sql: "SELECT next_flush_at, last_sent_at, sent_alerts FROM alert_group WHERE channel_id = ? AND group_key = ?"),
      arguments: [channel, group]
    ).map(GroupState.init(row:))
  }

  /// From a row with its three columns.
  init(row: Row) {
    (self.nextFlush, self.lastSent, self.sent) = (row["next_flush_at"], row["last_sent_at"], IDList.decode(row["sent_alerts"]))
  }

  init() {}
}

/// A list of ids as a JSON array of strings: `alert_group.sent_alerts` (the ids a group's last
/// message named) and the deliveries in flight that a claim passes over. Written for every alert
/// that changes, so ids (letters, digits, `_`) take a direct path (a JSONEncoder per call was a
/// fifth of the cost of taking an event in); anything else goes through Foundation's coders.
enum IDList {
  static func encode(_ ids: [String]) -> String {
    guard ids.allSatisfy(Self.plain) else { return String(decoding: (try? JSONEncoder().encode(ids)) ?? Data("[]".utf8), as: UTF8.self) }
    return "[" + ids.map { "\"\($0)\"" }.joined(separator: ",") + "]"
  }

  static func decode(_ text: String) -> [String] {
    let inner = text.dropFirst().dropLast()
    guard text.first == "[", text.last == "]" else { return [] }
    if inner.isEmpty { return [] }
    let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.dropFirst().dropLast() }
    if inner.hasPrefix("\""), inner.hasSuffix("\""), parts.allSatisfy({ Self.plain(String($0)) }) { return parts.map(String.init) }
    return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
  }

  private static func plain(_ id: String) -> Bool {
    !id.isEmpty && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f }
  }
}

/// The group clock in the service group: looks for due groups every half second.
struct GroupFlusher: Service {
  let store: Store
  let groups: AlertGroups
  let logger: Logger

  func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        _ = try await self.groups.flushDue(self.store, now: Date().timeIntervalSince1970)
      } catch {
        self.logger.error("grouping failed", metadata: ["error": "\(error)"])
      }
      try? await Task.sleep(for: .milliseconds(500))
    }
  }
}

extension AlertRecord {
  /// Whether one of a channel's subscription filters takes this alert. A channel whose deliveries
  /// are dying hears of it through the others, not through itself.
  func goes(to channelID: String, under filters: [SubscriptionFilter]) -> Bool {
    if self.event_type == "notifier.delivery_dead" && self.resource == channelID { return false }
    let (severity, tags) = (AlertSeverity(rawValue: self.severity) ?? .info, Tags.decode(self.tags))
    return filters.contains { $0.matches(type: self.event_type, severity: severity, providerID: self.provider_id, tags: tags) }
  }

  /// As a notification lists it.
  var entry: AlertEntry {
    AlertEntry(
      id: self.id, type: self.event_type, title: self.title, body: String(self.body.prefix(1000)),
      severity: AlertSeverity(rawValue: self.severity)?.name ?? "info",
      status: (Fixpoint_V1_Alert.Status(rawValue: self.status) ?? .open).name, resource: self.resource, control_id: self.control_id,
      provider_id: self.provider_id, count: self.count, first_seen: Timestamps.iso(Date(timeIntervalSince1970: self.created_at)),
      last_seen: Timestamps.iso(Date(timeIntervalSince1970: self.last_seen_at ?? self.created_at)), hint: self.hint)
  }
}
