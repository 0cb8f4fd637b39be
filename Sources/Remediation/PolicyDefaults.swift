import Configuration
import Foundation
import FixpointCore
import FixpointProtocol
import GRDB
import SwiftProtobuf
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
  var handlerOverrides: [String: Fixpoint_V1_Policy.Override] = [:]
  /// Findings below this severity are not remediated without an approval.
  var minAutoSeverity: Fixpoint_V1_Severity = .unspecified
  var updated: Fixpoint_V1_ActorStamp?

  /// Reads `dispatcher.approval.required` (bool, true; also `REMEDIATION_REQUIRE_APPROVAL`),
  /// `dispatcher.rollback.window.seconds` (int, 1800, at most 48 h) and
  /// `dispatcher.approval.ttl.seconds` (int, 86400).
  init(reader: ConfigReader) throws {
    // The issue's name for the switch; the dotted key (flag, file, FIXPOINT_ env) wins over it.
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

  var proto: Fixpoint_V1_Policy {
    .with {
      $0.requireApproval = self.requireApproval
      $0.rollbackWindowSeconds = Int64(self.rollbackWindowSeconds)
      $0.approvalTtlSeconds = Int64(self.approvalTTLSeconds)
      $0.blastRadiusMaxCount = Int32(self.blastRadiusMaxCount)
      $0.blastRadiusMaxShare = self.blastRadiusMaxShare
      $0.autoRollbackOnFailedVerification = self.autoRollbackOnFailedVerification
      $0.changeWindows = self.changeWindows.map(\.proto)
      $0.handlerOverrides = self.handlerOverrides
      $0.minAutoSeverity = self.minAutoSeverity
      if let updated = self.updated { $0.updated = updated }
    }
  }
}

extension PolicyDefaults {
  static let fields = [
    "require_approval", "handler_overrides", "change_windows", "approval_ttl_seconds", "rollback_window_seconds", "min_auto_severity",
    "blast_radius_max_count", "blast_radius_max_share", "auto_rollback_on_failed_verification",
  ]

  /// Applies the fields of `p` named in `mask` (all when empty), validating each; nothing changes
  /// when any is invalid.
  func applying(_ p: Fixpoint_V1_Policy, mask: [String], handlers: Set<String>) throws(ServiceError) -> PolicyDefaults {
    var next = self
    let names = mask.isEmpty ? Self.fields : mask
    for (i, name) in names.enumerated() {
      switch name {
      case "require_approval": next.requireApproval = p.requireApproval
      case "handler_overrides":
        for (handler, override) in p.handlerOverrides {
          guard handlers.contains(handler) else { throw .invalidArgument(field: "policy.handler_overrides[\(handler)]", reason: "unknown handler") }
          guard override != .unspecified else { throw .invalidArgument(field: "policy.handler_overrides[\(handler)]", reason: "say DEFAULT, ALWAYS or NEVER") }
        }
        next.handlerOverrides = p.handlerOverrides.filter { $0.value != .default }
      case "change_windows":
        next.changeWindows = try p.changeWindows.enumerated().map { j, w throws(ServiceError) in
          do { return try ChangeWindow(w) } catch { throw .invalidArgument(field: "policy.change_windows[\(j)]", reason: "\(error)") }
        }
      case "approval_ttl_seconds":
        guard (60...(30 * 86_400)).contains(p.approvalTtlSeconds) else {
          throw .invalidArgument(field: "policy.approval_ttl_seconds", reason: "must be between 60 and 2592000")
        }
        next.approvalTTLSeconds = Int(p.approvalTtlSeconds)
      case "rollback_window_seconds":
        guard (0...172_800).contains(p.rollbackWindowSeconds) else {
          throw .invalidArgument(field: "policy.rollback_window_seconds", reason: "must be between 0 and 172800 (48 h)")
        }
        next.rollbackWindowSeconds = Int(p.rollbackWindowSeconds)
      case "min_auto_severity": next.minAutoSeverity = p.minAutoSeverity
      case "blast_radius_max_count":
        guard p.blastRadiusMaxCount >= 0 else { throw .invalidArgument(field: "policy.blast_radius_max_count", reason: "must not be negative") }
        next.blastRadiusMaxCount = Int(p.blastRadiusMaxCount)
      case "blast_radius_max_share":
        guard (0...1).contains(p.blastRadiusMaxShare) else {
          throw .invalidArgument(field: "policy.blast_radius_max_share", reason: "must be between 0 and 1 (0: no limit)")
        }
        next.blastRadiusMaxShare = p.blastRadiusMaxShare
      case "auto_rollback_on_failed_verification": next.autoRollbackOnFailedVerification = p.autoRollbackOnFailedVerification
      default:
        throw .invalidArgument(field: "update_mask[\(i)]", reason: "'\(name)' is not a policy field (\(Self.fields.joined(separator: ", ")))")
      }
    }
    return next
  }
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
      let stored = try Fixpoint_V1_Policy(serializedBytes: data)
      policy = try policy.applying(stored, mask: [], handlers: Set(HandlerCatalogue.byName.keys))
      policy.updated = stored.updated
    }
    self.state = Mutex(policy)
  }

  var current: PolicyDefaults { self.state.withLock { $0 } }

  /// Applies the masked fields to the current policy inside the write transaction: writes are
  /// serialised, so two concurrent updates of different fields both hold (reading outside the
  /// write let the second overwrite the first with what it had read). The in-memory copy follows
  /// the commit, in commit order.
  func update(_ request: Fixpoint_V1_UpdatePolicyRequest, by actor: Principal) async throws -> Fixpoint_V1_Policy {
    let fields = request.updateMask.isEmpty ? "all" : request.updateMask.joined(separator: ",")
    return try await self.store.write { db in
      var next = try self.current.applying(request.policy, mask: request.updateMask, handlers: Set(HandlerCatalogue.byName.keys))
      next.updated = .with { $0.subject = actor.subject; $0.role = actor.role.rawValue; $0.time = .init(date: Date()) }
      let message = next.proto
      try db.execute(sql: "INSERT OR REPLACE INTO policy (id, message) VALUES (1, ?)", arguments: [try message.serializedData()])
      try AuditChain.append(
        actionID: "policy", from: "", to: "updated", actor: actor, comment: "fields: \(fields)",
        details: ["policy": (try? message.jsonString()) ?? ""], in: db)
      let committed = next
      db.afterNextTransaction { _ in self.state.withLock { $0 = committed } }
      return message
    }
  }
}
