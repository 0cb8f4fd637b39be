import FixpointProtocol

/// Alert severity, in the protocol's order (info 1 … critical 5).
enum AlertSeverity: Int, Comparable, Sendable, CaseIterable {
  case info = 1, low, medium, high, critical

  static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

  var name: String {
    switch self {
    case .info: "info"
    case .low: "low"
    case .medium: "medium"
    case .high: "high"
    case .critical: "critical"
    }
  }

  init?(name: String) {
    guard let found = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
    self = found
  }
}

/// An alert type pattern: an exact dotted type, a prefix with `*` (`remediation.*`), or `*`.
struct TypePattern: Sendable, Equatable, Codable, CustomStringConvertible {
  let text: String

  /// Validates: dotted identifiers of `[a-z0-9_]`, with an optional trailing `*` segment.
  init(_ text: String) throws(PatternError) {
    let segments = text.split(separator: ".", omittingEmptySubsequences: false)
    guard !text.isEmpty, text.count <= 128 else { throw PatternError(text: text) }
    for (i, segment) in segments.enumerated() {
      let wildcard = segment == "*" && i == segments.count - 1
      guard wildcard || (!segment.isEmpty && segment.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })) else {
        throw PatternError(text: text)
      }
    }
    self.text = text
  }

  func matches(_ type: String) -> Bool {
    if self.text == "*" { return true }
    if self.text.hasSuffix(".*") { return type.hasPrefix(self.text.dropLast()) }
    return type == self.text
  }

  var description: String { self.text }

  struct PatternError: Error, CustomStringConvertible {
    let text: String
    var description: String { "'\(text.prefix(64))' is not an event type pattern (dotted [a-z0-9_] names, optionally ending in .* , or *)" }
  }
}

/// What the notifier knows of a condition worth an alert.
struct AlertFacts: Sendable, Equatable {
  /// The alert type: the event type, refined where the event carries a kind (`drift.security`,
  /// `provider.sync_failed`).
  var type: String
  var dedupKey: String
  var title: String
  var body: String
  var severity: AlertSeverity
  var resource: String
  var controlID: String
  var providerID: String
  var tags: [String: String]
  /// The command that acts on it.
  var hint: String
}

/// What one incoming event means for alerts.
enum AlertSignal: Sendable, Equatable {
  /// Raise the alert, or count a repeat on the open one with the same dedup key.
  case raise(AlertFacts)
  /// The condition is gone: resolve the open alerts with these keys.
  case clear(keys: [String], reason: String)
  /// Nothing to alert on (a plain resource change, a successful step).
  case none
}

/// Which events raise alerts: a table of alert type patterns, each with the least severity that
/// raises. Configured by `notifier.alert.rules`; events that clear a condition always clear it.
struct AlertRules: Sendable, Equatable {
  struct Rule: Sendable, Equatable {
    var pattern: TypePattern
    var minimum: AlertSeverity
  }

  var rules: [Rule]

  /// The documented default table.
  static let defaultText =
    "drift.security:info,drift.compliance:info,compliance.violation:high,remediation.failed:info,remediation.rolled_back:info,"
    + "remediation.pending_approval:info,provider.sync_failed:info,job.failed:info,notifier.delivery_dead:info"

  /// Parses `TYPE[:SEVERITY],…` (severity defaults to info).
  init(text: String) throws(RuleError) {
    var rules: [Rule] = []
    for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
      let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
      let pattern: TypePattern
      do { pattern = try TypePattern(parts[0]) } catch { throw RuleError(reason: error.description) }
      var minimum = AlertSeverity.info
      if parts.count == 2 {
        guard let parsed = AlertSeverity(name: parts[1]) else { throw RuleError(reason: "'\(parts[1].prefix(32))': severity is info, low, medium, high or critical") }
        minimum = parsed
      }
      rules.append(Rule(pattern: pattern, minimum: minimum))
    }
    self.rules = rules
  }

  struct RuleError: Error, CustomStringConvertible { let reason: String; var description: String { reason } }

  /// Whether an alert of `type` and `severity` is raised.
  func raises(_ type: String, _ severity: AlertSeverity) -> Bool {
    self.rules.contains { $0.pattern.matches(type) && severity >= $0.minimum }
  }

  /// The event's meaning, filtered through the table. Pure: the same event always gives the same signal.
  func signal(for event: Fixpoint_V1_Event) -> AlertSignal {
    let signal = Self.classify(event)
    if case .raise(let facts) = signal, !self.raises(facts.type, facts.severity) { return .none }
    return signal
  }

  /// The event's meaning before the table: the one place events are read.
  static func classify(_ event: Fixpoint_V1_Event) -> AlertSignal {
    let severity = AlertSeverity(rawValue: event.severity.rawValue) ?? .medium
    switch event.payload {
    case .driftDetected(let d):
      let type = "drift.\(d.kind.isEmpty ? "configuration" : d.kind)"
      let key = Self.key(type, d.resource.label, d.controlID)
      if d.resolved || event.type == "drift.resolved" { return .clear(keys: [key], reason: "drift \(d.driftID) resolved") }
      let what = d.controlID.isEmpty ? "configuration" : d.controlID
      return .raise(AlertFacts(
        type: type, dedupKey: key, title: "\(d.kind.capitalized) drift (\(what)) on \(d.resource.label)",
        body: "Changed: \(d.paths.prefix(10).joined(separator: ", ")) against \(d.comparedWith).",
        severity: severity, resource: d.resource.label, controlID: d.controlID, providerID: d.resource.providerID,
        tags: d.resource.tags, hint: "fixpoint drifts show \(d.driftID)"))
    case .complianceViolation(let c):
      let key = Self.key("compliance.violation", c.resource.label, c.controlID)
      if c.resolved || event.type == "compliance.resolved" { return .clear(keys: [key], reason: "\(c.controlID) passes again") }
      return .raise(AlertFacts(
        type: "compliance.violation", dedupKey: key, title: "\(c.controlID) fails on \(c.resource.label)",
        body: c.title + (c.reason.isEmpty ? "" : ": \(c.reason)"), severity: severity, resource: c.resource.label,
        controlID: c.controlID, providerID: c.resource.providerID, tags: c.resource.tags,
        hint: "fixpoint compliance results \(c.assessmentID)"))
    case .remediation(let r):
      // One alert per action: waiting for approval, then (if it comes to that) failed or rolled back.
      let key = Self.key("remediation", r.actionID, "")
      switch r.toState {
      case "pending_approval", "failed", "rolled_back":
        let raised: AlertSeverity = switch r.toState {
        case "failed": max(severity, .high)
        case "rolled_back": max(severity, .medium)
        default: severity
        }
        let what = r.toState == "pending_approval" ? "waits for approval" : r.toState.replacingOccurrences(of: "_", with: " ")
        let hint = r.toState == "pending_approval" ? "fixpoint remediation approve \(r.actionID)" : "fixpoint remediation show \(r.actionID)"
        return .raise(AlertFacts(
          type: "remediation.\(r.toState)", dedupKey: key, title: "Remediation \(r.actionID) (\(r.handler)) \(what)",
          body: "On \(r.resource.label)." + (r.reason.isEmpty ? "" : " \(r.reason)") + (r.comment.isEmpty ? "" : " Comment: \(r.comment)"),
          severity: raised, resource: r.resource.label, controlID: "", providerID: r.resource.providerID, tags: r.resource.tags, hint: hint))
      case "approved", "rejected", "completed":
        return .clear(keys: [key], reason: "action \(r.actionID) \(r.toState)")
      default:
        return .none
      }
    case .providerSynced(let p):
      let key = Self.key("provider.sync_failed", p.providerID, "")
      if p.succeeded { return .clear(keys: [key], reason: "sync \(p.jobID) succeeded") }
      return .raise(AlertFacts(
        type: "provider.sync_failed", dedupKey: key, title: "Sync of provider \(p.providerID) failed",
        body: "Job \(p.jobID) did not discover every type and region.", severity: max(severity, .medium), resource: p.providerID,
        controlID: "", providerID: p.providerID, tags: [:], hint: "fixpoint provider sync \(p.providerID)"))
    case .findingSubmitted(let f):
      // Off by default: findings from compliance and drift already raise their own alerts.
      let control = f.controlID.isEmpty ? f.findingType : f.controlID
      return .raise(AlertFacts(
        type: "finding.submitted", dedupKey: Self.key("finding.submitted", f.resource.label, control),
        title: "Finding \(control) on \(f.resource.label)", body: f.title, severity: severity, resource: f.resource.label,
        controlID: f.controlID, providerID: f.resource.providerID, tags: f.resource.tags,
        hint: "fixpoint remediation suggest --finding \(f.findingID)"))
    default:
      if event.type == "job.failed" {
        return .raise(AlertFacts(
          type: "job.failed", dedupKey: Self.key("job.failed", event.subject, ""), title: "Job \(event.subject) failed",
          body: "From \(event.source).", severity: max(severity, .medium), resource: "", controlID: "", providerID: "",
          tags: [:], hint: "fixpoint jobs list"))
      }
      return .none
    }
  }

  static func key(_ type: String, _ resource: String, _ control: String) -> String { "\(type)|\(resource)|\(control)" }
}

extension Fixpoint_V1_ResourceRef {
  /// How an alert names the resource: its ARN when known.
  var label: String { self.externalID.isEmpty ? self.resourceID : self.externalID }
}
