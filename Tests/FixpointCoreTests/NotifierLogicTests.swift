import FixpointProtocol
import Foundation
@testable import Notifier
import Testing

/// The notifier's pure parts: signatures, egress, rules, grouping, backoff and the mail format.
@Suite("notifier logic")
struct NotifierLogicTests {
  @Test("Standard Webhooks vectors A (Python, Go, JS suites) and B (Rust suite) sign as published")
  func vectors() {
    let a = WebhookSignature.header(
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    #expect(a == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    let b = WebhookSignature.header(
      id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", timestamp: 1_649_367_553,
      body: Array(#"{"email":"test@example.com","username":"test_user"}"#.utf8), secrets: ["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"])
    #expect(b == "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
    // During a rotation both signatures go, space-separated.
    let both = WebhookSignature.header(id: "msg_x", timestamp: 1, body: [], secrets: [WebhookSignature.newSecret(), WebhookSignature.newSecret()])
    #expect(both.split(separator: " ").count == 2)
    #expect(WebhookSignature.newSecret().hasPrefix("whsec_") && WebhookSignature.key(WebhookSignature.newSecret()) != nil)
  }

  @Test("egress: non-global ranges are refused, global ones pass, the allow-list wins, IPv4-mapped IPv6 is checked as IPv4",
        arguments: [
          ("169.254.169.254", false), ("10.0.0.1", false), ("127.0.0.1", false), ("172.16.5.4", false), ("192.168.1.1", false),
          ("100.64.0.1", false), ("0.0.0.0", false), ("224.0.0.1", false), ("255.255.255.255", false), ("::1", false), ("fe80::1", false),
          ("fd00::1", false), ("::ffff:127.0.0.1", false), ("::ffff:10.1.2.3", false), ("64:ff9b::a00:1", false), ("2002:a00:1::", false),
          ("8.8.8.8", true), ("1.1.1.1", true), ("2606:4700:4700::1111", true), ("::ffff:8.8.8.8", true),
        ])
  func egress(address: String, allowed: Bool) throws {
    let policy = try EgressPolicy(allow: "")
    let ip = try #require(IPAddress(address))
    #expect((policy.refusal(ip) == nil) == allowed, "\(address)")
    let loopback = try EgressPolicy(allow: "127.0.0.0/8, ::1/128")
    #expect(loopback.refusal(IPAddress("127.0.0.1")!) == nil && loopback.refusal(IPAddress("::ffff:127.0.0.1")!) == nil)
    #expect(loopback.refusal(IPAddress("10.0.0.1")!) != nil)
  }

  @Test("IP literals are parsed strictly: octal, hex, dword and short forms are not addresses")
  func strictLiterals() throws {
    for text in ["0x7f.1", "2130706433", "0177.0.0.1", "127.1", "1.2.3.4.5", "256.1.1.1"] { #expect(IPAddress(text) == nil, "\(text)") }
    #expect(throws: EgressError.self) { try EgressPolicy(allow: "10.0.0.0/33") }
    #expect(throws: EgressError.self) { try EgressPolicy(allow: "not-a-range") }
    #expect(CIDR("fc00::/7")!.contains(IPAddress("fdff::1")!) && !CIDR("fc00::/7")!.contains(IPAddress("fe00::1")!))
  }

  @Test("the rule table: plain resource changes raise nothing; violations below the threshold raise nothing; clearing events clear")
  func rules() throws {
    let rules = try AlertRules(text: AlertRules.defaultText)
    let change = Fixpoint_V1_Event.with { $0.type = "resource.changed"; $0.resourceChanged = .init() }
    #expect(rules.signal(for: change) == .none)
    func violation(_ severity: Fixpoint_V1_Severity, resolved: Bool = false) -> Fixpoint_V1_Event {
      .with { e in
        e.type = resolved ? "compliance.resolved" : "compliance.violation"
        e.severity = severity
        e.complianceViolation = .with { $0.controlID = "S3.8"; $0.resource.externalID = "arn:b"; $0.resolved = resolved }
      }
    }
    #expect(rules.signal(for: violation(.medium)) == .none)
    guard case .raise(let facts) = rules.signal(for: violation(.critical)) else { Issue.record("a critical violation raises"); return }
    #expect(facts.dedupKey == "compliance.violation|arn:b|S3.8" && facts.severity == .critical)
    #expect(rules.signal(for: violation(.low, resolved: true)) == .clear(keys: [facts.dedupKey], reason: "S3.8 passes again"))
    let failed = Fixpoint_V1_Event.with { e in
      e.type = "remediation.failed"
      e.severity = .low
      e.remediation = .with { $0.actionID = "act_1"; $0.toState = "failed"; $0.handler = "H" }
    }
    guard case .raise(let f) = rules.signal(for: failed) else { Issue.record("a failed remediation raises"); return }
    #expect(f.severity == .high && f.type == "remediation.failed")
    let configuration = Fixpoint_V1_Event.with { e in e.type = "drift.detected"; e.severity = .low; e.driftDetected = .with { $0.kind = "configuration" } }
    #expect(rules.signal(for: configuration) == .none, "configuration drift is not alerted by default")
    #expect(throws: AlertRules.RuleError.self) { try AlertRules(text: "drift.*:apocalyptic") }
    #expect(throws: AlertRules.RuleError.self) { try AlertRules(text: "Drift Detected") }
    #expect(try TypePattern("remediation.*").matches("remediation.failed") && !(try TypePattern("remediation.*").matches("remediations.x")))
  }

  @Test("grouping decides as Alertmanager does")
  func grouping() {
    let policy = GroupingPolicy(by: [.eventType], wait: 30, interval: 300, repeatInterval: 14_400)
    #expect(policy.nextFlush(now: 100, existing: nil) == 130)
    #expect(policy.nextFlush(now: 100, existing: (next: 130, lastSent: nil)) == 130, "later additions do not push a waiting group back")
    #expect(policy.nextFlush(now: 100, existing: (next: 14_000, lastSent: 0)) == 300, "a change after a send waits for group_interval")
    #expect(policy.decide(firing: ["a", "b"], sent: ["a"], resolvedSinceSent: [], sendResolved: false, lastSent: 0, now: 1) == .send(repeatOnly: false))
    #expect(policy.decide(firing: ["a"], sent: ["a", "b"], resolvedSinceSent: ["b"], sendResolved: false, lastSent: 0, now: 1) == .quiet)
    #expect(policy.decide(firing: ["a"], sent: ["a", "b"], resolvedSinceSent: ["b"], sendResolved: true, lastSent: 0, now: 1) == .send(repeatOnly: false))
    #expect(policy.decide(firing: ["a"], sent: ["a"], resolvedSinceSent: [], sendResolved: true, lastSent: 0, now: 14_400) == .send(repeatOnly: true))
    #expect(policy.decide(firing: [], sent: [], resolvedSinceSent: [], sendResolved: true, lastSent: nil, now: 1) == .quiet,
            "an alert resolved within group_wait is never sent")
    #expect(policy.key(type: "t", provider: "p", resource: "r", control: "c", severity: .high, dedupKey: "k") == "event_type=t")
  }

  @Test("1,000 alerts make one message with counts and the top 20 entries, most severe first")
  func content() {
    let entries = (0..<1000).map { i in
      AlertEntry(
        id: "alr_\(i)", type: "compliance.violation", title: "t\(i)", body: "", severity: i == 500 ? "critical" : "high", status: "open",
        resource: "r\(i)", control_id: "S3.8", provider_id: "p", count: 1, first_seen: "x", last_seen: "x", hint: "")
    }
    let content = NotificationContent.make(group: "event_type=compliance.violation,provider=p", firing: entries, resolved: [], repeatOnly: false, at: Date())
    #expect(content.alerts.count == 20 && content.truncated == 980 && content.alerts[0].id == "alr_500")
    #expect(content.counts == ["high": 999, "critical": 1])
    #expect(content.summary == "[FIRING:1000] compliance.violation p (1 critical, 999 high)")
    let slack = (try? JSONSerialization.jsonObject(with: Data(SlackMessage.body(content)))) as? [String: Any]
    let blocks = slack?["blocks"] as? [[String: Any]] ?? []
    #expect(blocks.count <= 50 && (blocks[0]["text"] as? [String: Any])?["text"] as? String == content.summary)
  }

  @Test("a notification's JSON, written directly, is what JSONEncoder (sorted keys) writes and decodes to the same content",
        arguments: ["plain", "quo\"te and back\\slash", "line\nbreak\ttab\r\u{01}\u{1f}", "unicode: é ✓ 🚀 and </script>", ""])
  func contentJSON(text: String) throws {
    let entry = AlertEntry(
      id: "alr_1", type: "drift.security", title: text, body: text + text, severity: "high", status: "open", resource: "arn:aws:s3:::\(text)",
      control_id: "S3.8", provider_id: "prv_1", count: 3, first_seen: "2026-12-05T00:00:00.000Z", last_seen: "2026-12-05T00:00:01.000Z", hint: text)
    let content = NotificationContent(
      type: "alert.firing", group_key: "alert=\(text)", status: "firing", counts: ["high": 2, "critical": 1, text: 7], firing: 3, resolved: 1,
      alerts: [entry, entry], truncated: 0, repeat_notification: text.isEmpty, timestamp: "2026-12-05T00:00:02.000Z")
    #expect(try JSONDecoder().decode(NotificationContent.self, from: Data(content.json.utf8)) == content)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    #expect(content.json == String(decoding: try encoder.encode(content), as: UTF8.self))
  }

  @Test("timestamps written directly are Foundation's ISO 8601 with milliseconds, 1970 to 9999, leap days and millisecond edges included")
  func timestamps() {
    var random = SystemRandomNumberGenerator()
    var dates = (0..<20_000).map { _ in Date(timeIntervalSince1970: Double.random(in: 0..<253_402_300_800, using: &random)) }
    dates += [0, 0.0005, 0.9995, 0.999_999, 951_782_400, 951_868_799.999, 4_107_542_400, 1_795_000_000.123, 253_402_300_799.999]
      .map { Date(timeIntervalSince1970: $0) }
    dates += (0..<2000).map { i in Date(timeIntervalSince1970: 1_795_000_000 + Double(i) / 1000 + 0.000_4) }
    let wrong = dates.filter { Timestamps.iso($0) != Timestamps.foundation($0) }
    #expect(wrong.isEmpty, "\(wrong.prefix(5).map { "\($0.timeIntervalSince1970): \(Timestamps.iso($0)) vs \(Timestamps.foundation($0))" })")
  }

  @Test("a group's sent alert ids read back as written, through the direct path and through JSON for anything unusual",
        arguments: [[], ["alr_0a1b"], ["alr_1", "alr_2", "alr_3"], ["a,b", "c"], ["quo\"te", "back\\slash"], ["", "x"]])
  func sentAlerts(ids: [String]) throws {
    let text = IDList.encode(ids)
    #expect(IDList.decode(text) == ids, "\(text)")
    #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == ids, "always a JSON array: \(text)")
  }

  @Test("backoff: full jitter under a doubling ceiling, Retry-After honoured, out of attempts or too old is the dead letter")
  func backoff() {
    let policy = DeliveryBackoff(base: 5, cap: 3600, maxAttempts: 4, maxAge: 1000)
    #expect(policy.next(afterFailure: 1, queuedAt: 0, now: 0, retryAfter: nil, random: 1) == 5)
    #expect(policy.next(afterFailure: 3, queuedAt: 0, now: 0, retryAfter: nil, random: 1) == 20)
    #expect(policy.next(afterFailure: 1, queuedAt: 0, now: 0, retryAfter: 30, random: 0.1) == 30)
    #expect(policy.next(afterFailure: 4, queuedAt: 0, now: 0, retryAfter: nil, random: 1) == nil)
    #expect(policy.next(afterFailure: 1, queuedAt: 0, now: 999, retryAfter: nil, random: 1) == nil)
  }

  @Test("mail: quoted-printable keeps lines within 76 characters; dot-stuffing doubles a leading dot; CRLF throughout")
  func mail() {
    let long = String(repeating: "é", count: 100) + " end"
    let encoded = MailMessage.quotedPrintable(long + "\n.dot")
    #expect(encoded.split(separator: "\r\n").allSatisfy { $0.count <= 76 })
    #expect(encoded.hasSuffix("\r\n.dot"))
    #expect(MailMessage.dotStuffed("a\r\n.b\r\n..c\r\n") == "a\r\n..b\r\n...c\r\n")
    #expect(MailMessage.encodedWord("plain") == "plain" && MailMessage.encodedWord("ünï").hasPrefix("=?UTF-8?B?"))
    let content = NotificationContent(
      type: "channel.test", group_key: "", status: "test", counts: [:], firing: 0, resolved: 0, alerts: [], truncated: 0,
      repeat_notification: false, timestamp: "t")
    let message = MailMessage.render(content, from: "a@example.com", to: ["b@example.com"], messageID: "<m@x>", date: Date(timeIntervalSince1970: 0))
    #expect(message.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n") && message.contains("Message-ID: <m@x>\r\n"))
    #expect(!message.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
  }
}
