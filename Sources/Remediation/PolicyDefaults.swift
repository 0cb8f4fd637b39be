import Configuration
import Foundation
import FixpointCore
import FixpointProtocol

/// The policy as configured at start. Stored overrides (UpdatePolicy) arrive with the lifecycle work.
struct PolicyDefaults: Sendable {
  var requireApproval: Bool
  var rollbackWindowSeconds: Int
  var approvalTTLSeconds: Int
  /// A batch touching more resources of one type in one account than this stops (0: no limit).
  var blastRadiusMaxCount: Int
  var autoRollbackOnFailedVerification: Bool
  /// When tier 3 actions may execute.
  var changeWindows: [ChangeWindow]

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
    self.autoRollbackOnFailedVerification = reader.bool(forKey: "dispatcher.rollback.on.failure", default: true)
    self.changeWindows = try ChangeWindow.parse(reader.text(forKey: "dispatcher.change.windows", default: ""))
    guard self.blastRadiusMaxCount >= 0 else {
      throw SettingsError.invalid(key: "dispatcher.blast.radius.max.count", reason: "must not be negative")
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
      $0.autoRollbackOnFailedVerification = self.autoRollbackOnFailedVerification
      $0.changeWindows = self.changeWindows.map(\.proto)
    }
  }
}
