import Foundation

/// How alerts are batched into notifications, as Alertmanager does it: alerts that share a group
/// key wait `wait` before the first message; later changes go at most every `interval`; an
/// unchanged group that still fires is sent again after `repeat`.
struct GroupingPolicy: Sendable, Equatable {
  /// The labels a group key is made of.
  enum Label: String, Sendable, CaseIterable {
    case eventType = "event_type", provider, resource, control, severity
    /// Every alert its own group.
    case alert
  }

  var by: [Label]
  var wait: Double
  var interval: Double
  var repeatInterval: Double

  /// Parses `notifier.group.by`: comma-separated labels.
  static func labels(_ text: String) throws(GroupingError) -> [Label] {
    let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    var labels: [Label] = []
    for name in names {
      guard let label = Label(rawValue: name) else {
        throw GroupingError(reason: "'\(name.prefix(32))': labels are \(Label.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      if !labels.contains(label) { labels.append(label) }
    }
    guard !labels.isEmpty else { throw GroupingError(reason: "at least one label") }
    return labels
  }

  struct GroupingError: Error, CustomStringConvertible { let reason: String; var description: String { reason } }

  /// The group key of an alert: `label=value` pairs in the configured order.
  func key(type: String, provider: String, resource: String, control: String, severity: AlertSeverity, dedupKey: String) -> String {
    self.by.map { label in
      let value = switch label {
      case .eventType: type
      case .provider: provider
      case .resource: resource
      case .control: control
      case .severity: severity.name
      case .alert: dedupKey
      }
      return "\(label.rawValue)=\(value)"
    }.joined(separator: ",")
  }

  /// When a group that just gained an alert (or lost one) is next looked at: after `wait` for a new
  /// group, else as soon as `interval` has passed since the last message; never later than a flush
  /// already due.
  func nextFlush(now: Double, existing: (next: Double?, lastSent: Double?)?) -> Double {
    guard let existing else { return now + self.wait }
    let soonest = existing.lastSent.map { max(now, $0 + self.interval) } ?? now + self.wait
    return min(existing.next ?? soonest, soonest)
  }

  /// What to do when a group's time comes (Alertmanager's `needsUpdate`).
  enum Decision: Equatable {
    /// Send a message: alerts firing now, and those resolved since the last message.
    case send(repeatOnly: Bool)
    /// Nothing new to say; forget the resolved ones.
    case quiet
  }

  func decide(firing: Set<String>, sent: Set<String>, resolvedSinceSent: Set<String>, sendResolved: Bool, lastSent: Double?, now: Double) -> Decision {
    if !firing.subtracting(sent).isEmpty { return .send(repeatOnly: false) }
    if !resolvedSinceSent.isEmpty && sendResolved { return .send(repeatOnly: false) }
    if !firing.isEmpty, let lastSent, now >= lastSent + self.repeatInterval { return .send(repeatOnly: true) }
    return .quiet
  }
}

/// One alert as a notification shows it.
struct AlertEntry: Codable, Sendable, Equatable {
  var id: String
  var type: String
  var title: String
  var body: String
  var severity: String
  var status: String
  var resource: String
  var control_id: String
  var provider_id: String
  var count: Int
  var first_seen: String
  var last_seen: String
  var hint: String
}

/// What a notification says, whatever the channel: the `data` of a webhook, rendered into Slack
/// blocks or an email. Stored with the delivery, so every attempt sends the same thing.
struct NotificationContent: Codable, Sendable, Equatable {
  /// `alert.firing`, `alert.resolved` or `channel.test`.
  var type: String
  var group_key: String
  var status: String
  /// Firing alerts by severity name.
  var counts: [String: Int]
  var firing: Int
  var resolved: Int
  /// The most severe, most recent entries; `truncated` says how many more there are.
  var alerts: [AlertEntry]
  var truncated: Int
  var repeat_notification: Bool
  var timestamp: String

  static let maxEntries = 20

  /// Firing entries first (most severe, then most recent), then resolved ones.
  static func make(group: String, firing: [AlertEntry], resolved: [AlertEntry], repeatOnly: Bool, at: Date) -> Self {
    let rank: (AlertEntry, AlertEntry) -> Bool = { a, b in
      let (sa, sb) = (AlertSeverity(name: a.severity)?.rawValue ?? 0, AlertSeverity(name: b.severity)?.rawValue ?? 0)
      return sa != sb ? sa > sb : (a.last_seen != b.last_seen ? a.last_seen > b.last_seen : a.id < b.id)
    }
    let ordered = firing.sorted(by: rank) + resolved.sorted(by: rank)
    var counts: [String: Int] = [:]
    for entry in firing { counts[entry.severity, default: 0] += 1 }
    return NotificationContent(
      type: firing.isEmpty ? "alert.resolved" : "alert.firing", group_key: group, status: firing.isEmpty ? "resolved" : "firing",
      counts: counts, firing: firing.count, resolved: resolved.count, alerts: Array(ordered.prefix(Self.maxEntries)),
      truncated: max(0, ordered.count - Self.maxEntries), repeat_notification: repeatOnly, timestamp: Timestamps.iso(at))
  }

  /// A one-line summary: `[FIRING:3] compliance.violation (2 high, 1 critical)`.
  var summary: String {
    if self.type == "channel.test" { return "Fixpoint test message" }
    let order = AlertSeverity.allCases.reversed().map(\.name)
    let parts = order.compactMap { name in self.counts[name].map { "\($0) \(name)" } }
    let head = self.status == "firing" ? "[FIRING:\(self.firing)]" : "[RESOLVED:\(self.resolved)]"
    let group = self.group_key.split(separator: ",").compactMap { $0.split(separator: "=", maxSplits: 1).last }.filter { !$0.isEmpty }.joined(separator: " ")
    return "\(head) \(group)" + (parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))")
  }
}

extension NotificationContent {
  /// The stored and sent JSON: keys sorted, as `JSONEncoder` with `.sortedKeys` writes them, but
  /// written directly (the encoder was a fifth of the cost of taking an event in). A unit test
  /// holds it to the decoder.
  var json: String {
    var out = JSONText()
    out.object { o in
      o.key("alerts")
      o.array(self.alerts) { o, e in
        o.object { o in
          o.field("body", e.body); o.field("control_id", e.control_id); o.field("count", e.count); o.field("first_seen", e.first_seen)
          o.field("hint", e.hint); o.field("id", e.id); o.field("last_seen", e.last_seen); o.field("provider_id", e.provider_id)
          o.field("resource", e.resource); o.field("severity", e.severity); o.field("status", e.status); o.field("title", e.title)
          o.field("type", e.type)
        }
      }
      o.key("counts")
      o.object { o in for (name, n) in self.counts.sorted(by: { $0.key < $1.key }) { o.field(name, n) } }
      o.field("firing", self.firing); o.field("group_key", self.group_key); o.field("repeat_notification", self.repeat_notification)
      o.field("resolved", self.resolved); o.field("status", self.status); o.field("timestamp", self.timestamp)
      o.field("truncated", self.truncated); o.field("type", self.type)
    }
    return out.text
  }
}

/// A small JSON writer: objects, arrays, strings, integers and booleans, with commas placed for you.
struct JSONText {
  private(set) var text = ""
  private var needsComma = false

  mutating func object(_ body: (inout JSONText) -> Void) {
    self.separate()
    self.text += "{"
    self.needsComma = false
    body(&self)
    self.text += "}"
    self.needsComma = true
  }

  mutating func array<T>(_ items: [T], _ body: (inout JSONText, T) -> Void) {
    self.separate()
    self.text += "["
    self.needsComma = false
    for item in items { body(&self, item) }
    self.text += "]"
    self.needsComma = true
  }

  mutating func key(_ name: String) {
    self.separate()
    self.string(name)
    self.text += ":"
    self.needsComma = false
  }

  mutating func field(_ name: String, _ value: String) {
    self.key(name)
    self.string(value)
    self.needsComma = true
  }

  mutating func field(_ name: String, _ value: Int) {
    self.key(name)
    self.text += String(value)
    self.needsComma = true
  }

  mutating func field(_ name: String, _ value: Bool) {
    self.key(name)
    self.text += value ? "true" : "false"
    self.needsComma = true
  }

  private mutating func separate() {
    if self.needsComma { self.text += "," }
  }

  /// A JSON string: quotes, backslashes and control characters escaped; everything else as is.
  private mutating func string(_ value: String) {
    self.text += "\""
    if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
      self.text += value
    } else {
      for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": self.text += "\\\""
        case "\\": self.text += "\\\\"
        case "\n": self.text += "\\n"
        case "\r": self.text += "\\r"
        case "\t": self.text += "\\t"
        case _ where scalar.value < 0x20:
          let hex = String(scalar.value, radix: 16)
          self.text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: self.text.unicodeScalars.append(scalar)
        }
      }
    }
    self.text += "\""
  }
}

enum Timestamps {
  /// ISO 8601 in UTC with milliseconds: `2026-12-03T14:00:00.123Z`. Every notification writes
  /// three, so years 1970–9999 are written directly (the civil-from-days algorithm); a unit test
  /// holds the direct path to Foundation's format style, which writes the rest.
  static func iso(_ date: Date) -> String {
    // From the reference date, as Date keeps it: the fraction is the one Foundation formats.
    let r = date.timeIntervalSinceReferenceDate
    let whole = r.rounded(.down)
    guard whole >= -978_307_200, whole < 252_423_993_600 else { return Self.foundation(date) }
    let seconds = Int64(whole) + 978_307_200
    let ms = min(999, Int(((r - whole) * 1000).rounded(.down)))
    let (days, second) = (seconds / 86_400, Int(seconds % 86_400))
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468
    let era = z / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = Int(doy - (153 * mp + 2) / 5 + 1)
    let month = Int(mp < 10 ? mp + 3 : mp - 9)
    let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
    var out = [UInt8](repeating: 0, count: 24)
    func put(_ value: Int, at index: Int, digits: Int) {
      var v = value
      for i in stride(from: index + digits - 1, through: index, by: -1) {
        out[i] = UInt8(ascii: "0") + UInt8(v % 10)
        v /= 10
      }
    }
    put(year, at: 0, digits: 4)
    put(month, at: 5, digits: 2)
    put(day, at: 8, digits: 2)
    put(second / 3600, at: 11, digits: 2)
    put(second / 60 % 60, at: 14, digits: 2)
    put(second % 60, at: 17, digits: 2)
    put(ms, at: 20, digits: 3)
    for (i, c) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")] as [(Int, Unicode.Scalar)] { out[i] = UInt8(ascii: c) }
    return String(decoding: out, as: UTF8.self)
  }

  static func foundation(_ date: Date) -> String {
    Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).format(date)
  }
}
