import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging

/// Per-tier execution limits: how many of a tier's changes write at once, and how long one may take.
struct TierLimits: Sendable {
  var concurrency: [Tier: Int] = [.autoSafe: 10, .verify: 5, .changeWindow: 2]
  var timeout: [Tier: Duration] = [.autoSafe: .seconds(30), .verify: .seconds(120), .changeWindow: .seconds(600)]
  /// How many of a tier's actions a batch hands to inventory at once (at least the tier's
  /// concurrency). Inventory lets the tier's concurrency of them write at a time; the others
  /// have read their resource, sharing describe calls, and wait for a turn.
  var inFlight = 50

  /// The write turns of `tier`'s changes in inventory.
  func writeTurns(_ tier: Tier) -> WriteTurns { WriteTurns(key: "dispatcher/\(tier)", limit: max(1, self.concurrency[tier] ?? 1)) }
}

/// The write turns of an action's change in inventory: at most `limit` changes under `key` write at once.
struct WriteTurns: Sendable {
  let key: String
  let limit: Int
}

/// Suggests, approves, executes and rolls back actions. Every cloud read and write goes through
/// inventory (snapshot → apply → verify → restore); the dispatcher holds no credentials. Every
/// inventory call that changes something carries a request id derived from the action, so a
/// retry or a resumed execution after a crash is never applied twice.
///
/// One responsibility a file: `Executor+Suggest` (planning and the approval policy),
/// `+Approval`, `Batch` (which actions of a batch may run), `+Execution` (running a batch within
/// the tiers' limits, pausing on an outage, an operator's retry), `+Change` (one action's change,
/// its verification and its end), `+Rollback`, `+Recovery`.
final class Executor: Sendable {
  let actions: ActionStore
  let findings: FindingStore
  let book: PolicyBook
  var policy: PolicyDefaults { self.book.current }
  let handlerConfig: HandlerConfig
  let limits: TierLimits
  let inventory: InventoryPeer
  let logger: Logger
  /// One change at a time per resource (execution, automatic and operator rollback): two actions
  /// on one resource (EC2.53 and EC2.19 both revoke SSH from anywhere) would otherwise read,
  /// snapshot and write side by side, and the loser's failure rollback would restore the rules
  /// the winner removed. In turn, the second reads the first's result and finds nothing to do.
  let resourceLocks = KeyedSemaphore()
  /// When this process's executor was made: actions left executing before it are recovery's.
  let startedAt = Date().timeIntervalSince1970
  static let system = Principal(subject: "fixpoint-dispatcher", role: .service)

  init(
    actions: ActionStore, findings: FindingStore, book: PolicyBook, handlerConfig: HandlerConfig, limits: TierLimits,
    inventory: GRPCClient<HTTP2ClientTransport.Posix>, logger: Logger
  ) {
    self.actions = actions
    self.findings = findings
    self.book = book
    self.handlerConfig = handlerConfig
    self.limits = limits
    self.inventory = InventoryPeer(inventory)
    self.logger = logger
  }

  var store: Store { self.actions.store }

  typealias InventoryUnavailable = InventoryPeer.Unavailable

  /// A diff as one line per path, `path: before → after` (JSON values), for the audit trail.
  static func diffText(_ diffs: [PathDiff]) -> String {
    diffs.map { d in "\(d.path): \(Self.canonical(d.before)) → \(Self.canonical(d.after))" }.joined(separator: "\n")
  }

  /// JSON with sorted keys, so equal values read alike; an absent value reads as null.
  static func canonical(_ value: JSONValue?) -> String {
    guard let value, let object = try? JSONSerialization.jsonObject(with: value.canonicalData, options: [.fragmentsAllowed]),
      let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }
}
