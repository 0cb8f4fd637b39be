import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import SwiftProtobuf

/// Per-tier execution limits.
struct TierLimits: Sendable {
  var concurrency: [Fixpoint_V1_Tier: Int] = [.t1AutoSafe: 10, .t2Verify: 5, .t3ChangeWindow: 2]
  var timeout: [Fixpoint_V1_Tier: Duration] = [.t1AutoSafe: .seconds(30), .t2Verify: .seconds(120), .t3ChangeWindow: .seconds(600)]
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
  let inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>
  /// Inventory's health, on the same connection: asked once per execution batch.
  let inventoryHealth: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>
  let logger: Logger
  /// One change at a time per resource (execution, automatic and operator rollback): two actions
  /// on one resource (EC2.53 and EC2.19 both revoke SSH from anywhere) would otherwise read,
  /// snapshot and write side by side, and the loser's failure rollback would restore the rules
  /// the winner removed. In turn, the second reads the first's result and finds nothing to do.
  let resourceLocks = KeyedLock()
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
    self.inventory = Fixpoint_V1_InventoryService.Client(wrapping: inventory)
    self.inventoryHealth = Grpc_Health_V1_Health.Client(wrapping: inventory)
    self.logger = logger
  }

  var store: Store { self.actions.store }

  /// Runs an inventory call, turning its failure into this service's words.
  func callInventory<R>(_ what: String, _ body: () async throws -> R) async throws -> R {
    do {
      return try await body()
    } catch let error as RPCError {
      switch error.code {
      case .invalidArgument, .notFound, .failedPrecondition: throw ServiceError.failedPrecondition("inventory refused \(what): \(error.message)")
      case .unavailable, .deadlineExceeded, .cancelled, .aborted: throw InventoryUnavailable(what: what, code: error.code, message: error.message)
      default: throw ServiceError.failedPrecondition("inventory could not \(what) (\(error.code)): \(error.message)")
      }
    }
  }

  /// Inventory could not be reached or did not answer in time: the call may not have happened,
  /// or its answer was lost. Not the action's fault: an execution pauses and resumes (inventory
  /// keeps the answer to each change request id, so nothing is applied twice); an RPC answers
  /// UNAVAILABLE, which a caller may retry.
  struct InventoryUnavailable: Error, RPCErrorConvertible, CustomStringConvertible {
    let what: String
    let code: RPCError.Code
    let message: String
    var description: String { "inventory could not \(self.what) (\(self.code)): \(self.message)" }
    var rpcErrorCode: RPCError.Code { .unavailable }
    var rpcErrorMessage: String { self.description }
  }

  /// A diff as one line per path, `path: before → after` (JSON values), for the audit trail.
  static func diffText(_ diffs: [Fixpoint_V1_PathDiff]) -> String {
    diffs.map { d in "\(d.path): \(Self.canonical(d.before)) → \(Self.canonical(d.after))" }.joined(separator: "\n")
  }

  /// JSON with sorted keys, so equal values read alike.
  static func canonical(_ value: Google_Protobuf_Value) -> String {
    guard let text = try? value.jsonString(), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
      let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }

}
