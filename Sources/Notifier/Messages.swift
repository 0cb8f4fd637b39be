import Crypto
import Foundation

/// The Standard Webhooks signature (v1: HMAC-SHA256 over `id.timestamp.body`, keyed with the
/// base64-decoded bytes after `whsec_`).
enum WebhookSignature {
  /// A new secret: `whsec_` and 32 random bytes in base64.
  static func newSecret() -> String {
    "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
  }

  /// The key bytes of a `whsec_` secret (missing base64 padding tolerated, as the reference libraries do).
  static func key(_ secret: String) -> SymmetricKey? {
    var text = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
    while text.count % 4 != 0 { text += "=" }
    guard let bytes = Data(base64Encoded: text), (16...64).contains(bytes.count) else { return nil }
    return SymmetricKey(data: bytes)
  }

  /// `v1,<base64>` for each secret, space-separated: during a rotation both verify.
  static func header(id: String, timestamp: Int, body: [UInt8], secrets: [String]) -> String {
    Self.header(id: id, timestamp: timestamp, body: body, keys: secrets.compactMap(Self.key))
  }

  static func header(id: String, timestamp: Int, body: [UInt8], keys: [SymmetricKey]) -> String {
    var signed = Array("\(id).\(timestamp).".utf8)
    signed += body
    return keys.map { key in
      "v1," + Data(HMAC<SHA256>.authenticationCode(for: signed, using: key)).base64EncodedString()
    }.joined(separator: " ")
  }
}

/// Slack Block Kit, within Slack's limits (50 blocks, header 150 characters, section 3,000).
enum SlackMessage {
  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }

  static func clip(_ text: String, _ limit: Int) -> String { text.count <= limit ? text : String(text.prefix(limit - 1)) + "…" }

  static let maxEntries = 10

  /// The JSON body: `text` is the notification and screen-reader fallback.
  static func body(_ content: NotificationContent) -> [UInt8] {
    var blocks: [[String: Any]] = [
      ["type": "header", "text": ["type": "plain_text", "text": Self.clip(content.summary, 150)]]
    ]
    if content.type == "channel.test" {
      blocks.append(Self.section("This is a test message from Fixpoint: the channel works."))
    } else {
      let counts = AlertSeverity.allCases.reversed().compactMap { s in content.counts[s.name].map { "\($0) \(s.name)" } }.joined(separator: ", ")
      blocks.append([
        "type": "section",
        "fields": [
          ["type": "mrkdwn", "text": "*Status*\n\(content.status)"],
          ["type": "mrkdwn", "text": "*Firing*\n\(content.firing)" + (counts.isEmpty ? "" : " (\(counts))")],
          ["type": "mrkdwn", "text": "*Resolved*\n\(content.resolved)"],
          ["type": "mrkdwn", "text": "*Group*\n\(Self.clip(Self.escape(content.group_key), 1900))"],
        ],
      ])
      blocks.append(["type": "divider"])
      for entry in content.alerts.prefix(Self.maxEntries) {
        var text = "*\(entry.severity.uppercased())* \(Self.escape(entry.title))"
        if entry.status == "resolved" { text = "~\(text)~ resolved" }
        if !entry.resource.isEmpty { text += "\nResource: `\(Self.escape(entry.resource))`" }
        if !entry.body.isEmpty { text += "\n\(Self.escape(entry.body))" }
        if entry.count > 1 { text += "\nSeen \(entry.count) times, last \(entry.last_seen)" }
        if !entry.hint.isEmpty && entry.status != "resolved" { text += "\nTo act: `\(Self.escape(entry.hint))`" }
        blocks.append(Self.section(Self.clip(text, 3000)))
      }
      let more = content.alerts.count - min(content.alerts.count, Self.maxEntries) + content.truncated
      if more > 0 {
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "… and \(more) more: `fixpoint alerts list --status open`"]]])
      }
    }
    let message: [String: Any] = ["text": Self.clip(content.summary, 3000), "blocks": blocks]
    return Array((try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])) ?? Data())
  }

  static func section(_ text: String) -> [String: Any] { ["type": "section", "text": ["type": "mrkdwn", "text": text]] }
}

/// The email form of a notification: a subject, a plain-text part and an HTML part.
enum EmailMessage {
  static func subject(_ content: NotificationContent) -> String { SlackMessage.clip(content.summary, 200) }

  static func text(_ content: NotificationContent) -> String {
    if content.type == "channel.test" { return "This is a test message from Fixpoint: the channel works.\n" }
    var lines = [content.summary, "", "Firing: \(content.firing)   Resolved: \(content.resolved)   Group: \(content.group_key)", ""]
    for entry in content.alerts {
      lines.append("[\(entry.severity.uppercased())] \(entry.title)\(entry.status == "resolved" ? " (resolved)" : "")")
      if !entry.resource.isEmpty { lines.append("  Resource: \(entry.resource)") }
      if !entry.body.isEmpty { lines.append("  \(entry.body)") }
      if entry.count > 1 { lines.append("  Seen \(entry.count) times, last \(entry.last_seen)") }
      if !entry.hint.isEmpty && entry.status != "resolved" { lines.append("  To act: \(entry.hint)") }
      lines.append("")
    }
    if content.truncated > 0 { lines.append("… and \(content.truncated) more: fixpoint alerts list --status open") }
    return lines.joined(separator: "\n") + "\n"
  }

  static func html(_ content: NotificationContent) -> String {
    func esc(_ s: String) -> String {
      s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
    }
    if content.type == "channel.test" { return "<html><body><p>This is a test message from Fixpoint: the channel works.</p></body></html>\n" }
    var html = "<html><body>\n<h2>\(esc(content.summary))</h2>\n<p>Firing: \(content.firing) &middot; Resolved: \(content.resolved)</p>\n<ul>\n"
    for entry in content.alerts {
      html += "<li><b>\(esc(entry.severity.uppercased()))</b> \(esc(entry.title))"
      if entry.status == "resolved" { html += " <i>(resolved)</i>" }
      if !entry.resource.isEmpty { html += "<br>Resource: <code>\(esc(entry.resource))</code>" }
      if !entry.body.isEmpty { html += "<br>\(esc(entry.body))" }
      if !entry.hint.isEmpty && entry.status != "resolved" { html += "<br>To act: <code>\(esc(entry.hint))</code>" }
      html += "</li>\n"
    }
    html += "</ul>\n"
    if content.truncated > 0 { html += "<p>… and \(content.truncated) more.</p>\n" }
    return html + "</body></html>\n"
  }
}
