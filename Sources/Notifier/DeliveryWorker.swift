import Crypto
import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// A channel as a send needs it: settings decoded, secrets opened, signing keys and the URL parsed.
struct OpenedChannel: Sendable {
  var settings: ChannelSettings
  var secrets: ChannelSecrets
  /// The webhook signing keys, the current one first.
  var signingKeys: [SymmetricKey]
  /// Where a webhook or Slack channel posts, parsed (or why it does not parse).
  var target: Result<HTTPTarget, HTTPTarget.TargetError>

  init(_ record: ChannelRecord, secrets: ChannelSecrets) {
    (self.settings, self.secrets) = (record.decodedSettings, secrets)
    self.signingKeys = secrets.signing.compactMap(WebhookSignature.key)
    let url = ChannelKind(rawValue: record.kind) == .slack ? secrets.slackURL : self.settings.url
    do { self.target = .success(try HTTPTarget(url ?? "", field: "url")) } catch { self.target = .failure(error) }
  }
}

/// Channel id → the row's settings and sealed secrets and what they opened to: a channel is
/// opened again only when its row changes (a rotation re-seals it), not once per delivery.
final class OpenedChannels: Sendable {
  private let cache = Mutex<[String: (settings: String, sealed: Data, channel: OpenedChannel)]>([:])

  func open(_ record: ChannelRecord, with channels: Channels) throws -> OpenedChannel {
    if let cached = self.cache.withLock({ $0[record.id] }), cached.settings == record.settings, cached.sealed == record.sealed {
      return cached.channel
    }
    let opened = OpenedChannel(record, secrets: try channels.secrets(of: record))
    self.cache.withLock { $0[record.id] = (record.settings, record.sealed, opened) }
    return opened
  }
}

/// Sends one delivery through its channel and reads the answer by that channel's rules.
struct Sender: Sendable {
  let poster: HTTPPoster
  let smtp: SMTPSender
  let channels: Channels
  let opened = OpenedChannels()

  func send(_ delivery: DeliveryRecord, channel: ChannelRecord, now: Double) async -> AttemptResult {
    var result = AttemptResult(
      deliveryID: delivery.id, outcome: .dead(disable: false), statusCode: 0, latencyMS: 0, response: "", trigger: delivery.trigger, at: now)
    let opened: OpenedChannel
    do { opened = try self.opened.open(channel, with: self.channels) } catch {
      result.response = "the channel's secrets do not open with this master key"
      return result
    }
    let settings = opened.settings
    switch ChannelKind(rawValue: channel.kind) {
    case .webhook:
      let active = Array(opened.signingKeys.prefix((channel.previous_secret_expires_at ?? 0) > now ? 2 : 1))
      // The stored content is the data as is; its timestamp is the delivery's creation (both set from one clock reading).
      let timestamp = Timestamps.iso(Date(timeIntervalSince1970: delivery.created_at))
      let body = Array("{\"data\":\(delivery.content),\"timestamp\":\"\(timestamp)\",\"type\":\"\(delivery.type)\"}".utf8)
      let sentAt = Int(now)
      let headers = [
        ("Content-Type", "application/json"), ("User-Agent", "fixpoint-notifier"), ("webhook-id", delivery.webhook_id),
        ("webhook-timestamp", String(sentAt)),
        ("webhook-signature", WebhookSignature.header(id: delivery.webhook_id, timestamp: sentAt, body: body, keys: active)),
      ]
      return await self.post(opened.target, headers: headers, body: body, into: result) { answer in
        switch answer.status {
        case 200..<300: .delivered
        case 410: .dead(disable: true)
        case 408, 409, 425, 429, 500...599: .retry(after: answer.retryAfter)
        default: .dead(disable: false)
        }
      }
    case .slack:
      guard let content = delivery.decodedContent else { return Self.undecodable(result) }
      let body = SlackMessage.body(content)
      return await self.post(opened.target, headers: [("Content-Type", "application/json"), ("User-Agent", "fixpoint-notifier")],
                             body: body, into: result) { answer in
        switch answer.status {
        case 200: answer.body.trimmingCharacters(in: .whitespacesAndNewlines) == "ok" ? .delivered : .dead(disable: false)
        case 410: .dead(disable: true)
        case 429, 500...599: .retry(after: answer.retryAfter)
        default: .dead(disable: false)
        }
      }
    case .email:
      guard let content = delivery.decodedContent else { return Self.undecodable(result) }
      let started = ContinuousClock.now
      let reply = await self.smtp.send(content, messageID: delivery.webhook_id, settings: settings, password: opened.secrets.password)
      result.latencyMS = Int((ContinuousClock.now - started) / .milliseconds(1))
      result.statusCode = reply.code
      result.response = String(reply.text.prefix(512))
      result.outcome = reply.outcome
      return result
    case nil:
      result.response = "unknown channel kind \(channel.kind)"
      return result
    }
  }

  private static func undecodable(_ result: AttemptResult) -> AttemptResult {
    var result = result
    result.response = "the stored notification does not decode"
    return result
  }

  private func post(
    _ parsed: Result<HTTPTarget, HTTPTarget.TargetError>, headers: [(String, String)], body: [UInt8], into result: AttemptResult,
    read: (HTTPAnswer) -> SendOutcome
  ) async -> AttemptResult {
    var result = result
    let target: HTTPTarget
    switch parsed {
    case .success(let t): target = t
    case .failure(let error):
      result.response = error.description
      return result
    }
    do {
      let answer = try await self.poster.post(target, headers: headers, body: body)
      result.statusCode = answer.status
      result.latencyMS = answer.latencyMS
      result.response = String(answer.body.prefix(512))
      result.outcome = read(answer)
    } catch {
      result.response = error.description
      // A refused destination stays refused; anything else (refused connection, timeout) may pass.
      if case .egress = error { result.outcome = .dead(disable: false) } else { result.outcome = .retry(after: nil) }
    }
    return result
  }
}

/// What the worker's loop shares with the sends in flight and the recorder.
final class WorkerState: Sendable {
  /// Delivery id → channel id, from its claim until its attempt is recorded: never claimed twice.
  let inFlight = Mutex<[String: String]>([:])
  /// Sends on the wire now (at most the concurrency).
  let sending = Mutex(0)
  /// Attempts answered and not yet handed to the recorder.
  let finished = Mutex<[AttemptResult]>([])
  /// Whether a batch of attempts is being written.
  let recording = Mutex(false)
}

/// The circuit breaker's settings: after `failures` failed attempts in a row a channel is left
/// alone for `openSeconds`; then one delivery probes it (half-open) and a success closes it.
struct BreakerPolicy: Sendable, Equatable {
  var failures: Int
  var openSeconds: Double
}

/// The delivery worker in the service group: claims due deliveries, sends up to `concurrency`
/// at once, and records every attempt. A delivery is marked delivered only after the receiver
/// took it; one in flight when the process dies is still pending and is sent again, with the
/// same webhook-id, after the restart.
///
/// Claims read a snapshot and attempts are written by one recorder beside the loop, so sending
/// never waits behind the store's writer (a batch of incoming events holds it for tens of
/// milliseconds); a delivery stays out of later claims until its attempt is recorded.
struct DeliveryWorker: Service {
  let store: Store
  let sender: Sender
  let alerts: AlertStore
  let backoff: DeliveryBackoff
  let breaker: BreakerPolicy
  let concurrency: Int
  let logger: Logger

  func run() async throws {
    let shared = WorkerState()
    await withDiscardingTaskGroup { group in
      while true {
        let stopping = Task.isCancelled || Task.isShuttingDownGracefully
        let results = shared.recording.withLock { busy -> [AttemptResult] in
          guard !busy else { return [] }
          let taken = shared.finished.withLock { list in
            defer { list = [] }
            return list
          }
          busy = !taken.isEmpty
          return taken
        }
        if !results.isEmpty {
          group.addTask {
            do { try await self.record(results) } catch {
              // Left pending in the store: claimed and sent again, with the same webhook-id.
              self.logger.error("recording delivery attempts failed", metadata: ["error": "\(error)"])
            }
            shared.inFlight.withLock { map in for r in results { map[r.deliveryID] = nil } }
            shared.recording.withLock { $0 = false }
          }
        }
        if stopping && shared.inFlight.withLock({ $0.isEmpty }) { break }
        var claimed: [(DeliveryRecord, ChannelRecord)] = []
        let busy = shared.inFlight.withLock { $0 }
        let sending = shared.sending.withLock { $0 }
        let room = self.concurrency - sending
        // Claims go in batches of a quarter of the concurrency: each one reads past the deliveries
        // still in flight, and claiming slot by slot made that the notifier's largest cost.
        if !stopping, room > 0, room >= self.concurrency / 4 || sending == 0 {
          do { claimed = try await self.claim(limit: room, busy: busy) } catch {
            self.logger.error("claiming deliveries failed", metadata: ["error": "\(error)"])
          }
        }
        for (delivery, channel) in claimed {
          shared.inFlight.withLock { $0[delivery.id] = channel.id }
          shared.sending.withLock { $0 += 1 }
          group.addTask {
            let result = await self.sender.send(delivery, channel: channel, now: Date().timeIntervalSince1970)
            shared.finished.withLock { $0.append(result) }
            shared.sending.withLock { $0 -= 1 }
          }
        }
        // While sends are in flight their answers are collected every 2 ms; idle, the queue is polled every 20 ms.
        if claimed.isEmpty && results.isEmpty { try? await Task.sleep(for: .milliseconds(busy.isEmpty ? 20 : 2)) }
      }
    }
  }

  /// Due deliveries not already in flight, minus those whose channel's breaker is open (they
  /// wait for it) or that are gone or disabled (the dead letter). A half-open channel gets one
  /// probe. Read from a snapshot; only those set-asides are written.
  func claim(limit: Int, busy: [String: String]) async throws -> [(DeliveryRecord, ChannelRecord)] {
    let now = Date().timeIntervalSince1970
    let breaker = self.breaker
    let (claimed, deadLettered, deferred) = try await self.store.read { db in
      // Passes over the deliveries in flight in SQL: fetching them with the rest and skipping
      // them here, every few milliseconds, was a fifth of the notifier's work.
      let due = try DeliveryRecord.fetchAll(
        db.cachedStatement(sql: """
          SELECT \(DeliveryRecord.selection) FROM delivery
          WHERE status IN (1, 3) AND next_attempt_at <= ? AND id NOT IN (SELECT value FROM json_each(?))
          ORDER BY next_attempt_at LIMIT ?
          """),
        arguments: [now, IDList.encode(Array(busy.keys)), limit])
      var channels: [String: ChannelRecord?] = [:]
      var probing = Set(busy.values)
      var claimed: [(DeliveryRecord, ChannelRecord)] = []
      var deadLettered: [(String, String)] = []
      var deferred: [(String, Double)] = []
      for delivery in due {
        if channels[delivery.channel_id] == nil { channels[delivery.channel_id] = .some(try ChannelRecord.fetchOne(db, key: delivery.channel_id)) }
        guard let channel = channels[delivery.channel_id] ?? nil, channel.status == 1 else {
          deadLettered.append((delivery.id, channels[delivery.channel_id]??.status == 2 ? "channel disabled" : "channel deleted"))
          continue
        }
        if let until = channel.breaker_until, until > now {
          deferred.append((delivery.id, until))
          continue
        }
        if channel.failures >= breaker.failures {
          guard !probing.contains(channel.id) else { continue }
          probing.insert(channel.id)
        }
        claimed.append((delivery, channel))
      }
      return (claimed, deadLettered, deferred)
    }
    if !deadLettered.isEmpty || !deferred.isEmpty {
      try await self.store.write { db in
        // Only a delivery still waiting is set aside: the snapshot may be older than the store.
        for (id, why) in deadLettered {
          try db.cachedStatement(sql: "UPDATE delivery SET status = 4, last_error = ? WHERE id = ? AND status IN (1, 3)").execute(arguments: [why, id])
        }
        for (id, until) in deferred {
          try db.cachedStatement(sql: "UPDATE delivery SET next_attempt_at = ? WHERE id = ? AND status IN (1, 3)").execute(arguments: [until, id])
        }
      }
    }
    return claimed
  }

  /// Writes attempts and their consequences in one transaction.
  func record(_ results: [AttemptResult]) async throws {
    let (backoff, breaker, alerts) = (self.backoff, self.breaker, self.alerts)
    let dead = try await self.store.write { db -> [String] in
      var dead: [(DeliveryState, ChannelRecord)] = []
      // Each channel is read and written once per batch, however many of its deliveries it holds.
      var channels: [String: ChannelRecord] = [:]
      for result in results {
        guard var delivery = try DeliveryState.fetch(result.deliveryID, in: db) else { continue }
        if channels[delivery.channel_id] == nil {
          channels[delivery.channel_id] = try ChannelRecord.fetchOne(db, cachedSQL: "SELECT * FROM channel WHERE id = ?", arguments: [delivery.channel_id])
        }
        guard var channel = channels[delivery.channel_id] else { continue }
        let now = Date().timeIntervalSince1970
        delivery.attempts += 1
        try AttemptRecord(
          delivery_id: delivery.id, at: result.at, status_code: result.statusCode, latency_ms: result.latencyMS,
          response: result.response, trigger: result.trigger, succeeded: result.outcome == .delivered
        ).write(db)
        var outcome = result.outcome
        if delivery.trigger == "test", case .retry = outcome { outcome = .dead(disable: false) }
        switch outcome {
        case .delivered:
          (delivery.status, delivery.delivered_at, delivery.last_error) = (DeliveryRecord.Status.delivered.rawValue, now, "")
          (channel.failures, channel.breaker_until) = (0, nil)
        case .retry(let after):
          delivery.last_error = Self.describe(result)
          channel.failures += 1
          if channel.failures >= breaker.failures { channel.breaker_until = now + breaker.openSeconds }
          if let next = backoff.next(afterFailure: delivery.attempts, queuedAt: delivery.queued_at, now: now, retryAfter: after, random: Double.random(in: 0...1)) {
            (delivery.status, delivery.next_attempt_at) = (DeliveryRecord.Status.retrying.rawValue, next)
          } else {
            delivery.status = DeliveryRecord.Status.dead.rawValue
            delivery.last_error = "out of attempts; last: " + delivery.last_error
          }
        case .dead(let disable):
          (delivery.status, delivery.last_error) = (DeliveryRecord.Status.dead.rawValue, Self.describe(result))
          if disable {
            channel.status = Fixpoint_V1_Channel.Status.disabled.rawValue
            channel.status_reason = "the receiver answered \(result.statusCode) Gone; create the channel again to resume"
          }
        }
        try delivery.write(db)
        channels[channel.id] = channel
        if delivery.status == DeliveryRecord.Status.dead.rawValue && delivery.trigger != "test" {
          dead.append((delivery, channel))
        }
      }
      for channel in channels.values { try channel.update(db) }
      // Raised after the channels are written, so a channel disabled in this batch is seen as such.
      for (delivery, channel) in dead {
        try alerts.raise(
          AlertFacts(
            type: "notifier.delivery_dead", dedupKey: AlertRules.key("notifier.delivery_dead", channel.id, ""),
            title: "Notifications to channel \(channel.name) are failing", body: "Delivery \(delivery.id): \(delivery.last_error)",
            severity: .high, resource: channel.id, controlID: "", providerID: "", tags: [:],
            hint: "fixpoint deliveries list --status dead --channel \(channel.id)"),
          eventID: nil, subject: delivery.id, source: "notifier", in: db, now: Date().timeIntervalSince1970)
      }
      return dead.map(\.0.id)
    }
    for id in dead { self.logger.warning("delivery dead-lettered", metadata: ["delivery.id": "\(id)"]) }
  }

  static func describe(_ result: AttemptResult) -> String {
    let answer = result.response.isEmpty ? "" : ": \(result.response.prefix(200))"
    return result.statusCode == 0 ? String(result.response.prefix(300)) : "answered \(result.statusCode)\(answer)"
  }
}
