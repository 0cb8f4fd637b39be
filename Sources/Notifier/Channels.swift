import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import Synchronization

/// A channel's kind.
enum ChannelKind: Int, Sendable {
  case slack = 1, email = 2, webhook = 3

  var name: String {
    switch self {
    case .slack: "slack"
    case .email: "email"
    case .webhook: "webhook"
    }
  }
}

/// How an email channel reaches its server.
enum SMTPSecurity: Int, Codable, Sendable {
  case starttls = 1, tls = 2, none = 3
}

/// What may be shown of a channel (stored as JSON in `channel.settings`).
struct ChannelSettings: Codable, Sendable, Equatable {
  /// Webhook: the URL.
  var url: String?
  /// Slack: the host of the incoming-webhook URL.
  var slackHost: String?
  var smtpHost: String?
  var smtpPort: Int?
  var from: String?
  var security: SMTPSecurity?
  var username: String?
  var recipients: [String]?
}

/// What is sealed (`channel.sealed`): never returned, logged or put in an event.
struct ChannelSecrets: Codable, Sendable {
  /// Webhook signing secrets, the current one first; a second one signs until the overlap ends.
  var signing: [String] = []
  var slackURL: String?
  var password: String?
}

struct ChannelRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "channel"
  var id: String
  var name: String
  var kind: Int
  var settings: String
  var sealed: Data
  var send_resolved: Bool
  var status: Int
  var status_reason: String
  var previous_secret_expires_at: Double?
  var failures: Int
  var breaker_until: Double?
  var created_by: String
  var created_role: String
  var created_at: Double

  var decodedSettings: ChannelSettings {
    (try? JSONDecoder().decode(ChannelSettings.self, from: Data(self.settings.utf8))) ?? ChannelSettings()
  }
}

struct SubscriptionRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "subscription"
  var id: String
  var channel_id: String
  var event_types: String
  var min_severity: Int
  var provider_id: String
  var tags: String
  var created_by: String
  var created_at: Double

  /// The decoded filter. Subscriptions are never updated, only created and deleted, so each is
  /// decoded once per process (every event is matched against every subscription).
  var filter: SubscriptionFilter {
    if let cached = Self.decoded.withLock({ $0[self.id] }) { return cached }
    let filter = SubscriptionFilter(
      patterns: ((try? JSONDecoder().decode([String].self, from: Data(self.event_types.utf8))) ?? []).compactMap { try? TypePattern($0) },
      minimum: AlertSeverity(rawValue: self.min_severity) ?? .info, providerID: self.provider_id, tags: Tags.decode(self.tags))
    Self.decoded.withLock { $0[self.id] = filter }
    return filter
  }

  private static let decoded = Mutex<[String: SubscriptionFilter]>([:])
}

/// Tags as stored (a JSON object of strings); the empty case, by far the most common, skips the decoder.
enum Tags {
  static func decode(_ text: String) -> [String: String] {
    text == "{}" || text.isEmpty ? [:] : (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
  }

  static func encode(_ tags: [String: String]) throws -> String {
    tags.isEmpty ? "{}" : String(decoding: try Deliveries.encoder.encode(tags), as: UTF8.self)
  }
}

/// Which alerts a subscription sends to its channel.
struct SubscriptionFilter: Sendable, Equatable {
  var patterns: [TypePattern]
  var minimum: AlertSeverity
  var providerID: String
  var tags: [String: String]

  func matches(type: String, severity: AlertSeverity, providerID: String, tags: [String: String]) -> Bool {
    self.patterns.contains { $0.matches(type) } && severity >= self.minimum
      && (self.providerID.isEmpty || self.providerID == providerID)
      && self.tags.allSatisfy { tags[$0.key] == $0.value }
  }
}

/// Channels and subscriptions: created, listed and deleted by admins; secrets sealed at rest.
struct Channels: Sendable {
  let store: Store
  let sealer: Sealer
  let egress: EgressPolicy

  static let defaultOverlap = 86_400.0

  /// Validates and stores a channel. For a webhook the notifier makes the signing secret and
  /// returns it in `signing_secret` this once; a retry with the same `request_id` gets the channel
  /// without it (the secret is never stored in clear, the request log included).
  func create(_ request: Fixpoint_V1_CreateChannelRequest, by principal: Principal) async throws -> Fixpoint_V1_Channel {
    let c = request.channel
    try Self.validateName(c.name)
    guard let kind = ChannelKind(rawValue: c.kind.rawValue) else {
      throw ServiceError.invalidArgument(field: "channel.kind", reason: "required: slack, email or webhook")
    }
    var settings = ChannelSettings()
    var secrets = ChannelSecrets()
    var returned = ""
    switch kind {
    case .webhook:
      _ = try await self.check(c.target, field: "channel.target")
      guard c.secret.isEmpty else {
        throw ServiceError.invalidArgument(field: "channel.secret", reason: "the notifier makes webhook signing secrets; leave it empty")
      }
      settings.url = c.target
      returned = WebhookSignature.newSecret()
      secrets.signing = [returned]
    case .slack:
      let target = try await self.check(c.secret, field: "channel.secret")
      settings.slackHost = target.host
      secrets.slackURL = c.secret
    case .email:
      try await self.validateEmail(c, into: &settings)
      if !c.secret.isEmpty {
        guard c.secret.count <= 512 else { throw ServiceError.invalidArgument(field: "channel.secret", reason: "at most 512 characters") }
        guard !c.email.username.isEmpty else {
          throw ServiceError.invalidArgument(field: "channel.email.username", reason: "required with a password")
        }
        secrets.password = c.secret
      }
    }
    let id = RandomID.make(prefix: "chn")
    let record = ChannelRecord(
      id: id, name: c.name, kind: kind.rawValue, settings: String(decoding: try JSONEncoder().encode(settings), as: UTF8.self),
      sealed: try self.sealer.seal(try JSONEncoder().encode(secrets), context: id),
      send_resolved: c.hasSendResolved ? c.sendResolved : kind == .webhook, status: Fixpoint_V1_Channel.Status.active.rawValue,
      status_reason: "", previous_secret_expires_at: nil, failures: 0, breaker_until: nil, created_by: principal.subject,
      created_role: principal.role.rawValue, created_at: Date().timeIntervalSince1970)
    // The request log must not hold the secret: fingerprint a copy without it.
    var logged = request
    logged.channel.secret = ""
    var answer = try await RequestLog.once(self.store, method: "CreateChannel", request: logged, requestID: request.requestID) { db in
      if try ChannelRecord.filter(Column("name") == record.name).fetchCount(db) > 0 {
        throw ServiceError.alreadyExists(kind: "channel", id: record.name)
      }
      try record.insert(db)
      return record.proto
    }
    if answer.id == id { answer.signingSecret = returned }
    return answer
  }

  /// A new webhook signing secret; the current one keeps signing for `overlap_seconds` (24 h by default).
  func rotate(_ request: Fixpoint_V1_RotateChannelSecretRequest) async throws -> Fixpoint_V1_Channel {
    try Validate.id(request.channelID, field: "channel_id", prefix: "chn")
    guard (0...(30 * 86_400)).contains(request.overlapSeconds) else {
      throw ServiceError.invalidArgument(field: "overlap_seconds", reason: "0–2592000 (0 means 24 hours)")
    }
    let overlap = request.overlapSeconds == 0 ? Self.defaultOverlap : Double(request.overlapSeconds)
    let fresh = WebhookSignature.newSecret()
    let sealer = self.sealer
    let rotated = Mutex(false)
    var answer = try await RequestLog.once(self.store, method: "RotateChannelSecret", request: request, requestID: request.requestID) { db in
      guard var record = try ChannelRecord.fetchOne(db, key: request.channelID) else {
        throw ServiceError.notFound(kind: "channel", id: request.channelID)
      }
      guard record.kind == ChannelKind.webhook.rawValue else {
        throw ServiceError.failedPrecondition("channel \(record.id) is \(ChannelKind(rawValue: record.kind)?.name ?? "?"): only webhooks have signing secrets")
      }
      var secrets = try JSONDecoder().decode(ChannelSecrets.self, from: try sealer.open(record.sealed, context: record.id))
      secrets.signing = [fresh] + secrets.signing.prefix(1)
      record.sealed = try sealer.seal(try JSONEncoder().encode(secrets), context: record.id)
      record.previous_secret_expires_at = Date().timeIntervalSince1970 + overlap
      try record.update(db)
      rotated.withLock { $0 = true }
      return record.proto
    }
    // Only the call that rotated shows the secret; a replay of it cannot (it is stored sealed only).
    if rotated.withLock({ $0 }) { answer.signingSecret = fresh }
    return answer
  }

  func list(_ request: Fixpoint_V1_ListChannelsRequest) async throws -> ([ChannelRecord], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let rows = try await self.store.read { db in
      try ChannelRecord.fetchAll(db, sql: "SELECT * FROM channel ORDER BY created_at, id LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
    }
    return (rows, page)
  }

  func get(_ id: String) async throws -> ChannelRecord {
    try Validate.id(id, field: "channel_id", prefix: "chn")
    guard let record = try await self.store.read({ db in try ChannelRecord.fetchOne(db, key: id) }) else {
      throw ServiceError.notFound(kind: "channel", id: id)
    }
    return record
  }

  /// Deletes the channel and its subscriptions; its queued deliveries go to the dead letter.
  func delete(_ request: Fixpoint_V1_DeleteChannelRequest) async throws -> Fixpoint_V1_DeleteChannelResponse {
    try Validate.id(request.channelID, field: "channel_id", prefix: "chn")
    return try await RequestLog.once(self.store, method: "DeleteChannel", request: request, requestID: request.requestID) { db in
      guard try ChannelRecord.deleteOne(db, key: request.channelID) else { throw ServiceError.notFound(kind: "channel", id: request.channelID) }
      try db.execute(
        sql: "UPDATE delivery SET status = 4, last_error = 'channel deleted' WHERE channel_id = ? AND status IN (1, 3)",
        arguments: [request.channelID])
      return .with { $0.channelID = request.channelID }
    }
  }

  /// The channel's secrets, opened for a send.
  func secrets(of record: ChannelRecord) throws -> ChannelSecrets {
    try JSONDecoder().decode(ChannelSecrets.self, from: try self.sealer.open(record.sealed, context: record.id))
  }

  // MARK: Subscriptions

  func subscribe(_ request: Fixpoint_V1_CreateSubscriptionRequest, by principal: Principal) async throws -> Fixpoint_V1_Subscription {
    let s = request.subscription
    try Validate.id(s.channelID, field: "subscription.channel_id", prefix: "chn")
    guard (1...20).contains(s.eventTypes.count) else {
      throw ServiceError.invalidArgument(field: "subscription.event_types", reason: "1–20 patterns, e.g. remediation.* or *")
    }
    for (i, text) in s.eventTypes.enumerated() {
      do { _ = try TypePattern(text) } catch { throw ServiceError.invalidArgument(field: "subscription.event_types[\(i)]", reason: error.description) }
    }
    guard s.minSeverity == .unspecified || AlertSeverity(rawValue: s.minSeverity.rawValue) != nil else {
      throw ServiceError.invalidArgument(field: "subscription.min_severity", reason: "info, low, medium, high or critical")
    }
    if !s.providerID.isEmpty { try Validate.id(s.providerID, field: "subscription.provider_id", prefix: "prv") }
    guard s.tags.count <= 10 else { throw ServiceError.invalidArgument(field: "subscription.tags", reason: "at most 10") }
    for (key, value) in s.tags {
      try Validate.text(key, field: "subscription.tags", max: 128)
      try Validate.text(value, field: "subscription.tags[\(key.prefix(32))]", max: 256, required: false)
    }
    let record = SubscriptionRecord(
      id: RandomID.make(prefix: "sub"), channel_id: s.channelID,
      event_types: String(decoding: try JSONEncoder().encode(s.eventTypes), as: UTF8.self),
      min_severity: s.minSeverity == .unspecified ? AlertSeverity.info.rawValue : s.minSeverity.rawValue, provider_id: s.providerID,
      tags: String(decoding: try JSONEncoder().encode(s.tags), as: UTF8.self), created_by: principal.subject,
      created_at: Date().timeIntervalSince1970)
    return try await RequestLog.once(self.store, method: "CreateSubscription", request: request, requestID: request.requestID) { db in
      guard try ChannelRecord.exists(db, key: s.channelID) else { throw ServiceError.notFound(kind: "channel", id: s.channelID) }
      try record.insert(db)
      return record.proto
    }
  }

  func subscriptions(_ request: Fixpoint_V1_ListSubscriptionsRequest) async throws -> ([SubscriptionRecord], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    if !request.channelID.isEmpty { try Validate.id(request.channelID, field: "channel_id", prefix: "chn") }
    let rows = try await self.store.read { db in
      request.channelID.isEmpty
        ? try SubscriptionRecord.fetchAll(db, sql: "SELECT * FROM subscription ORDER BY created_at, id LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
        : try SubscriptionRecord.fetchAll(
          db, sql: "SELECT * FROM subscription WHERE channel_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
          arguments: [request.channelID, page.size, page.offset])
    }
    return (rows, page)
  }

  func unsubscribe(_ request: Fixpoint_V1_DeleteSubscriptionRequest) async throws -> Fixpoint_V1_DeleteSubscriptionResponse {
    try Validate.id(request.subscriptionID, field: "subscription_id", prefix: "sub")
    return try await RequestLog.once(self.store, method: "DeleteSubscription", request: request, requestID: request.requestID) { db in
      guard try SubscriptionRecord.deleteOne(db, key: request.subscriptionID) else {
        throw ServiceError.notFound(kind: "subscription", id: request.subscriptionID)
      }
      return .with { $0.subscriptionID = request.subscriptionID }
    }
  }

  // MARK: Validation

  static func validateName(_ name: String) throws {
    try Validate.text(name, field: "channel.name", max: 64)
    guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
      throw ServiceError.invalidArgument(field: "channel.name", reason: "letters, digits, '.', '_' and '-'")
    }
  }

  /// Parses a URL and checks where it leads: refused destinations, and plain http outside the allow-list.
  func check(_ url: String, field: String) async throws -> HTTPTarget {
    let target: HTTPTarget
    do { target = try HTTPTarget(url, field: field) } catch { throw ServiceError.invalidArgument(field: error.field, reason: error.reason) }
    let addresses: [IPAddress]
    do { addresses = try await self.egress.resolve(target.host, port: target.port) } catch {
      throw ServiceError.invalidArgument(field: field, reason: error.description)
    }
    if !target.tls, !addresses.allSatisfy(self.egress.allowListed) {
      throw ServiceError.invalidArgument(field: field, reason: "plain http is accepted only for allow-listed addresses (notifier.egress.allow); use https")
    }
    return target
  }

  func validateEmail(_ c: Fixpoint_V1_Channel, into settings: inout ChannelSettings) async throws {
    let e = c.email
    let security: SMTPSecurity = switch e.security {
    case .unspecified, .starttls: .starttls
    case .tls: .tls
    case .none: .none
    default: throw ServiceError.invalidArgument(field: "channel.email.security", reason: "starttls, tls or none")
    }
    let port = e.smtpPort == 0 ? (security == .tls ? 465 : 587) : Int(e.smtpPort)
    guard (1...65535).contains(port) else { throw ServiceError.invalidArgument(field: "channel.email.smtp_port", reason: "1–65535") }
    try Validate.text(e.smtpHost, field: "channel.email.smtp_host", max: 253)
    let addresses: [IPAddress]
    do { addresses = try await self.egress.resolve(e.smtpHost, port: port) } catch {
      throw ServiceError.invalidArgument(field: "channel.email.smtp_host", reason: error.description)
    }
    if security == .none, !addresses.allSatisfy(self.egress.allowListed) {
      throw ServiceError.invalidArgument(field: "channel.email.security", reason: "plain SMTP is accepted only for allow-listed addresses; use starttls or tls")
    }
    if security == .none, !c.secret.isEmpty {
      throw ServiceError.invalidArgument(field: "channel.secret", reason: "a password is never sent without TLS")
    }
    try Self.validateAddress(e.from, field: "channel.email.from")
    guard (1...100).contains(c.emailRecipients.count) else {
      throw ServiceError.invalidArgument(field: "channel.email_recipients", reason: "1–100 addresses")
    }
    for (i, address) in c.emailRecipients.enumerated() { try Self.validateAddress(address, field: "channel.email_recipients[\(i)]") }
    if !e.username.isEmpty { try Validate.text(e.username, field: "channel.email.username", max: 256) }
    settings.smtpHost = e.smtpHost
    settings.smtpPort = port
    settings.from = e.from
    settings.security = security
    settings.username = e.username.isEmpty ? nil : e.username
    settings.recipients = c.emailRecipients
  }

  /// An address SMTP can carry: `local@domain`, no spaces, brackets or control characters.
  static func validateAddress(_ address: String, field: String) throws {
    let parts = address.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, (1...64).contains(parts[0].count), (1...255).contains(parts[1].count),
      address.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f && !"<>()[],;:\\\"".unicodeScalars.contains($0) }),
      EgressPolicy.isHostName(String(parts[1]))
    else { throw ServiceError.invalidArgument(field: field, reason: "expected an address like ops@example.com") }
  }
}

extension ChannelRecord {
  /// The wire form: never a secret.
  var proto: Fixpoint_V1_Channel {
    let settings = self.decodedSettings
    return .with { c in
      c.id = self.id
      c.name = self.name
      c.kind = Fixpoint_V1_Channel.Kind(rawValue: self.kind) ?? .unspecified
      switch ChannelKind(rawValue: self.kind) {
      case .webhook: c.target = settings.url ?? ""
      case .slack: c.target = settings.slackHost ?? ""
      case .email:
        c.target = "\(settings.smtpHost ?? ""):\(settings.smtpPort ?? 0)"
        c.emailRecipients = settings.recipients ?? []
        c.email = .with {
          $0.smtpHost = settings.smtpHost ?? ""
          $0.smtpPort = Int32(settings.smtpPort ?? 0)
          $0.from = settings.from ?? ""
          $0.security = Fixpoint_V1_EmailSettings.Security(rawValue: settings.security?.rawValue ?? 0) ?? .unspecified
          $0.username = settings.username ?? ""
        }
      case nil: break
      }
      c.sendResolved = self.send_resolved
      c.status = Fixpoint_V1_Channel.Status(rawValue: self.status) ?? .unspecified
      c.statusReason = self.status_reason
      c.created = .with {
        $0.subject = self.created_by
        $0.role = self.created_role
        $0.time = .init(date: Date(timeIntervalSince1970: self.created_at))
      }
      if let expires = self.previous_secret_expires_at, expires > Date().timeIntervalSince1970 {
        c.previousSecretExpiresAt = .init(date: Date(timeIntervalSince1970: expires))
      }
      c.breakerOpen = (self.breaker_until ?? 0) > Date().timeIntervalSince1970
    }
  }
}

extension SubscriptionRecord {
  var proto: Fixpoint_V1_Subscription {
    let filter = self.filter
    return .with { s in
      s.id = self.id
      s.channelID = self.channel_id
      s.eventTypes = filter.patterns.map(\.text)
      s.minSeverity = Fixpoint_V1_Severity(rawValue: self.min_severity) ?? .unspecified
      s.providerID = self.provider_id
      s.tags = filter.tags
      s.created = .with { $0.subject = self.created_by; $0.time = .init(date: Date(timeIntervalSince1970: self.created_at)) }
    }
  }
}
