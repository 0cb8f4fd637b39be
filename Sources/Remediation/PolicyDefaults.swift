import Configuration
import Foundation
import FixpointCore
import FixpointProtocol

/// The policy as configured at start. Stored overrides (UpdatePolicy) arrive with the lifecycle work.
struct PolicyDefaults: Sendable {
  var requireApproval: Bool
  var rollbackWindowSeconds: Int
  var approvalTTLSeconds: Int

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
    }
  }
}
