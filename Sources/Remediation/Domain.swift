import FixpointControls
import FixpointDocuments
import Foundation

// The dispatcher's own types. The lifecycle, the executor, the handlers and the policy work on
// these; `Wire.swift` converts them to and from the protocol's messages in one place (the RPCs,
// the events, inventory's RPCs, the stored rows), and nothing else here sees a generated type.

/// Where an action is in its lifecycle (`Lifecycle`). The raw values are the stored codes (the
/// `state` column), the same numbers as the protocol's `ActionState`.
enum ActionState: Int, CaseIterable, Sendable, CustomStringConvertible {
  case suggested = 1, pendingApproval, approved, executing, completed, failed, rolledBack, rejected

  /// `pending_approval`, `rolled_back`, …: the audit trail's and the events' words.
  var description: String {
    switch self {
    case .suggested: "suggested"
    case .pendingApproval: "pending_approval"
    case .approved: "approved"
    case .executing: "executing"
    case .completed: "completed"
    case .failed: "failed"
    case .rolledBack: "rolled_back"
    case .rejected: "rejected"
    }
  }
}

/// How a fix runs: tier 1 automatically, tier 2 with verification, tier 3 only in a change window
/// with an approval. The raw values are the stored codes (the `tier` column).
enum Tier: Int, Sendable, CustomStringConvertible {
  case autoSafe = 1, verify, changeWindow

  var description: String { "tier \(self.rawValue)" }
}

/// The resource an action changes, as inventory names it.
struct ResourceRef: Sendable, Hashable {
  var resourceID: String
  var externalID: String
  var type: String
  var providerID: String
  var region: String
}

/// A resource as inventory holds it: what handlers plan on.
struct InventoryResource: Sendable {
  var id: String
  var externalID: String
  var type: String
  var providerID: String
  var region: String
  var name: String
  var tags: [String: String]
  var configuration: JSONValue

  var ref: ResourceRef {
    ResourceRef(resourceID: self.id, externalID: self.externalID, type: self.type, providerID: self.providerID, region: self.region)
  }
}

/// The exact change an action makes: operations on the resource's document (docs/resources.md).
struct ChangeSet: Sendable, Hashable {
  var resource: ResourceRef
  var operations: [PathOperation]
}

/// One path's value before and after a change, as inventory answers it (nil: absent).
struct PathDiff: Sendable, Hashable {
  var path: String
  var before: JSONValue?
  var after: JSONValue?
  var unchanged = false
}

/// Who did something, as which role, when.
struct ActorStamp: Sendable, Hashable {
  var subject: String
  var role: String
  var time: Date
}

/// A remediation action: one finding's fix, from suggestion to its end.
struct Action: Sendable {
  var id: String
  var findingID: String
  var handler: String
  var state: ActionState
  var description: String
  var resource: ResourceRef
  var changeSet: ChangeSet
  /// The diff the plan makes on inventory's record (or, for a dry run, on a fresh read).
  var plannedDiff: [PathDiff] = []
  var risk: Severity
  var tier: Tier
  var reversible: Bool
  var requiresApproval: Bool
  /// Inventory's snapshot of the fields before the change (empty: none taken yet).
  var snapshotID = ""
  var requested: ActorStamp
  var approved: ActorStamp?
  var approvalExpiresAt: Date?
  var completedAt: Date?
  /// Set when a completed change may be rolled back, until then.
  var rollbackDeadline: Date?
  var failureReason = ""
  /// For a guidance-only action: how a person fixes it.
  var guidance = ""
  /// 1 for the first execution; an operator's retry of a failed action makes the next.
  var attempt = 0

  /// Its handler makes no change (ManualGuidance): a person fixes the resource; the dispatcher
  /// neither approves nor executes it.
  var isGuidanceOnly: Bool { self.changeSet.operations.isEmpty }
}

/// Why an action an ExecuteAction call asked about did not run.
struct NotRun: Sendable {
  enum Cause: Sendable {
    case notApproved, approvalExpired, noChangeWindow, windowClosed, blastRadius, inProgress, inventoryUnavailable, internalError,
      guidanceOnly
  }
  var actionID: String
  var cause: Cause
  var reason: String
  /// For `windowClosed`: when the next change window opens.
  var nextWindowOpensAt: Date?
}

/// Inventory's answer to an applied change.
struct AppliedChange: Sendable {
  /// The snapshot taken before writing ("" when nothing needed writing and none was kept).
  var snapshotID: String
  /// What changed; empty when the resource already complied.
  var diffs: [PathDiff]
  /// The resource's document as read right after the change, when inventory read it.
  var after: JSONValue?
  /// For a key rotation: the new key's id (its secret went to the sink).
  var newAccessKeyID: String
}
