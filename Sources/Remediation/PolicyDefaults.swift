import Configuration
import Foundation
import FixpointControls
import FixpointCore
import GRDB
import Synchronization

/// The policy: configured at start, changed at run time by UpdatePolicy (stored, and then it wins
/// over the configuration).
struct PolicyDefaults: Sendable {
  var requireApproval: Bool
  var rollbackWindowSeconds: Int
  var approvalTTLSeconds: Int
  /// A batch touching more resources of one type in one account than this stops (0: no limit).
  var blastRadiusMaxCount: Int
  /// A batch touching more than this share (0–1) of an account's resources of one type stops (0: no limit).
  var blastRadiusMaxShare: Double
  var autoRollbackOnFailedVerification: Bool
  /// When tier 3 actions may execute.
  var changeWindows: [ChangeWindow]
  /// Per handler: always or never require approval (tier 3 and `auto_remediate=false` still do).
  var handlerOverrides: [String: ApprovalOverride] = [:]
  /// Findings below this severity are not remediated without an approval (nil: any severity).
  var minAutoSeverity: Severity?
  var updated: ActorStamp?

  enum ApprovalOverride: Sendable { case always, never }

  /// Reads `dispatcher.approval.required` (bool, true; also `REMEDIATION_REQUIRE_APPROVAL`),
  /// `dispatcher.rollback.window.seconds` (int, 1800, at most 48 h) and
  /// `dispatcher.approval.ttl.seconds` (int, 86400).
  init(reader: ConfigReader) throws {
    // The name for the switch; the dotted key (flag, file, FIXPOINT_ env) wins over it.
    var fallback = true
    if let raw = ProcessInfo.processInfo.environment["REMEDIATION_REQUIRE_APPROVAL"] {
      guard let value = Bool(raw.lowercased()) else {
        throw SettingsError.invalid(key: "REMEDIATION_REQUIRE_APPROVAL", reason: "expected true or false, got \(raw)")
      }
      fallback = value
    }
    self.requireApproval = reader.bool(forKey: "dispatcher.approval.required", default: fallback)
    self.rollbackWindowSeconds = reader.int(forKey: "dispatcher.rollback.window.seconds", default: 1800)
    self.approvalTTLSeconds = reader.int(forKey: "dispatcher.approval.ttl.seconds", default: 86_400)
    self.blastRadiusMaxCount = reader.int(forKey: "dispatcher.blast.radius.max.count", default: 0)
    self.blastRadiusMaxShare = reader.double(forKey: "dispatcher.blast.radius.max.share", default: 0)
    self.autoRollbackOnFailedVerification = reader.bool(forKey: "dispatcher.rollback.on.failure", default: true)
    self.changeWindows = try ChangeWindow.parse(reader.text(forKey: "dispatcher.change.windows", default: ""))
    guard self.blastRadiusMaxCount >= 0 else {
      throw SettingsError.invalid(key: "dispatcher.blast.radius.max.count", reason: "must not be negative")
    }
    guard (0...1).contains(self.blastRadiusMaxShare) else {
      throw SettingsError.invalid(key: "dispatcher.blast.radius.max.share", reason: "must be between 0 and 1 (0: no limit)")
    }
    guard (0...172_800).contains(self.rollbackWindowSeconds) else {
      throw SettingsError.invalid(key: "dispatcher.rollback.window.seconds", reason: "must be between 0 and 172800 (48 h)")
    }
    guard self.approvalTTLSeconds > 0 else {
      throw SettingsError.invalid(key: "dispatcher.approval.ttl.seconds", reason: "must be positive")
    }
  }
}

extension PolicyDefaults {
  /// The policy's fields by the protocol's names, as an update mask names them.
  static let fields = [
    "require_approval", "handler_overrides", "change_windows", "approval_ttl_seconds", "rollback_window_seconds", "min_auto_severity",
    "blast_radius_max_count", "blast_radius_max_share", "auto_rollback_on_failed_verification",
  ]
}

/// The policy in force, shared by the RPCs and the executor; changes are stored and audited.
final class PolicyBook: Sendable {
  private let state: Mutex<PolicyDefaults>
  let store: Store

  static let migration = Store.Migration("dispatcher.4-policy") { db in
    try db.execute(sql: "CREATE TABLE policy (id INTEGER PRIMARY KEY CHECK (id = 1), message BLOB NOT NULL)")
  }

  /// The configured policy, with the stored one (if any) on top.
  init(configured: PolicyDefaults, store: Store) throws {
    self.store = store
    var policy = configured
    if let data = try store.readAtStartup({ db in try Data.fetchOne(db, sql: "SELECT message FROM policy WHERE id = 1") }) {
      policy = try policy.applyingStored(data)
    }
    self.state = Mutex(policy)
  }

  var current: PolicyDefaults { self.state.withLock { $0 } }

  /// Applies the masked fields to the current policy inside the write transaction: writes are
  /// serialised, so two concurrent updates of different fields both hold (reading outside the
  /// write let the second overwrite the first with what it had read). The in-memory copy follows
  /// the commit, in commit order.
  func update(fields: [String], by actor: Principal, _ change: @escaping @Sendable (PolicyDefaults) throws -> PolicyDefaults) async throws
    -> PolicyDefaults
  {
    let named = fields.isEmpty ? "all" : fields.joined(separator: ",")
    return try await self.store.write { db in
      var next = try change(self.current)
      next.updated = ActorStamp(actor)
      let (stored, text) = try next.storedForm()
      try db.execute(sql: "INSERT OR REPLACE INTO policy (id, message) VALUES (1, ?)", arguments: [stored])
      try AuditChain.append(actionID: "policy", from: "", to: "updated", actor: actor, comment: "fields: \(named)", details: ["policy": text], in: db)
      let committed = next
      db.afterNextTransaction { _ in self.state.withLock { $0 = committed } }
      return next
    }
  }
}
