import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// Inventory as the dispatcher uses it, in the dispatcher's types: the edge towards inventory's
/// RPCs. Every failure comes back in this service's words: inventory's refusal as
/// FAILED_PRECONDITION, an outage (unavailable, past its deadline) as `InventoryUnavailable`.
struct InventoryPeer: Sendable {
  let client: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>
  /// Inventory's health, on the same connection: asked once per execution batch.
  let health: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>

  init(_ connection: GRPCClient<HTTP2ClientTransport.Posix>) {
    self.client = Fixpoint_V1_InventoryService.Client(wrapping: connection)
    self.health = Grpc_Health_V1_Health.Client(wrapping: connection)
  }

  /// Inventory could not be reached or did not answer in time: the call may not have happened,
  /// or its answer was lost. Not the action's fault: an execution pauses and resumes (inventory
  /// keeps the answer to each change request id, so nothing is applied twice); an RPC answers
  /// UNAVAILABLE, which a caller may retry.
  struct Unavailable: Error, RPCErrorConvertible, CustomStringConvertible {
    let what: String
    let code: RPCError.Code
    let message: String
    var description: String { "inventory could not \(self.what) (\(self.code)): \(self.message)" }
    var rpcErrorCode: RPCError.Code { .unavailable }
    var rpcErrorMessage: String { self.description }
  }

  /// Runs an inventory call, turning its failure into this service's words.
  private func call<R>(_ what: String, _ body: () async throws -> R) async throws -> R {
    do {
      return try await body()
    } catch let error as RPCError {
      switch error.code {
      case .invalidArgument, .notFound, .failedPrecondition: throw ServiceError.failedPrecondition("inventory refused \(what): \(error.message)")
      case .unavailable, .deadlineExceeded, .cancelled, .aborted: throw Unavailable(what: what, code: error.code, message: error.message)
      default: throw ServiceError.failedPrecondition("inventory could not \(what) (\(error.code)): \(error.message)")
      }
    }
  }

  func resource(_ id: String) async throws -> InventoryResource {
    InventoryResource(try await self.call("read the resource") { try await self.client.getResource(.with { $0.resourceID = id }) })
  }

  /// The resource's latest baseline: its id and document.
  func baseline(of resourceID: String) async throws -> (id: String, document: JSONValue) {
    let baseline = try await self.call("read the baseline") { try await self.client.getBaseline(.with { $0.resourceID = resourceID }) }
    return (baseline.id, try JSONValue(baseline.configuration))
  }

  /// The diff `changeSet` would make: on inventory's record with `fromRecord` (no cloud call),
  /// otherwise on a fresh read.
  func plan(_ changeSet: ChangeSet, fromRecord: Bool = false) async throws -> [PathDiff] {
    try await self.call("plan the change") {
      try await self.client.applyChange(.with { $0.changeSet = changeSet.proto; $0.dryRun = true; $0.fromRecord = fromRecord })
    }.diffs.map(PathDiff.init)
  }

  /// A fresh read of the resource's document, for a verification.
  func read(_ changeSet: ChangeSet) async throws -> JSONValue? {
    let answer = try await self.call("verify the change") { try await self.client.applyChange(.with { $0.changeSet = changeSet.proto; $0.dryRun = true }) }
    return answer.hasAfter ? try JSONValue(answer.after) : nil
  }

  /// Applies `changeSet` once per `requestID` (a repeat gets the first answer), with a snapshot first.
  func apply(_ changeSet: ChangeSet, requestID: String, newAccessKeySink: String?, writeTurns: WriteTurns) async throws -> AppliedChange {
    let answer = try await self.call("apply the change") {
      try await self.client.applyChange(.with {
        $0.requestID = requestID
        $0.changeSet = changeSet.proto
        $0.snapshot = true
        if let sink = newAccessKeySink { $0.newAccessKeySink = sink }
        $0.writeLimitKey = writeTurns.key
        $0.writeLimit = UInt32(min(writeTurns.limit, 1000))
      })
    }
    return AppliedChange(
      snapshotID: answer.snapshotID, diffs: answer.diffs.map(PathDiff.init), after: answer.hasAfter ? try JSONValue(answer.after) : nil,
      newAccessKeyID: answer.newAccessKeyID)
  }

  /// The snapshot inventory took for a change request, or nil when it took none (nothing was written).
  /// Errors other than "none" are thrown as they come: the caller records that it could not tell.
  func snapshotID(forChange requestID: String) async throws -> String? {
    do {
      return try await self.client.getSnapshot(.with { $0.changeRequestID = requestID }).id
    } catch let error as RPCError where error.code == .notFound {
      return nil
    }
  }

  /// Restores a snapshot once per `requestID`.
  func restore(_ snapshotID: String, requestID: String) async throws {
    _ = try await self.call("restore the snapshot") {
      try await self.client.restoreSnapshot(.with { $0.requestID = requestID; $0.snapshotID = snapshotID })
    }
  }

  /// The paths that still differ from a snapshot, on a fresh read (empty: restored).
  func differences(from snapshotID: String) async throws -> [PathDiff] {
    try await self.call("verify the rollback") {
      try await self.client.restoreSnapshot(.with { $0.snapshotID = snapshotID; $0.dryRun = true })
    }.diffs.map(PathDiff.init)
  }

  /// How many active resources of `type` inventory holds for a provider.
  func activeCount(providerID: String, type: String) async throws -> Int {
    Int(try await self.call("count the account's resources") {
      try await self.client.listResources(.with {
        $0.providerID = providerID
        $0.type = type
        $0.status = .active
        $0.pageSize = 1
      }).totalSize
    })
  }

  /// Nil when inventory serves, or why not. Waits up to `patience` for its connection, so a call
  /// made just after inventory came back (while the client is between reconnection attempts)
  /// runs instead of answering "unavailable".
  func unreachable(patience: Duration = .seconds(10)) async -> String? {
    var options = CallOptions.defaults
    options.waitForReady = true
    options.timeout = patience
    do {
      let status = try await self.health.check(.init(), options: options).status
      return status == .serving ? nil : "inventory is not serving (\(status)); the action stays approved and runs on the next execute"
    } catch {
      return "inventory could not be reached within \(patience) (\(error)); the action stays approved and runs on the next execute"
    }
  }
}
