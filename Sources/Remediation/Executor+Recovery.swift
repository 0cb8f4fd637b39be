import FixpointCore
import Foundation
import GRDB
import GRPCCore
import Logging
import ServiceLifecycle

/// Finishing what an earlier process left executing.
extension Executor {
  /// Actions a previous process left `executing` are finished: every step repeats safely (the
  /// inventory calls carry the action's request ids), so the change is never applied twice.
  func reconcile() async {
    for attempt in 1...60 {
      // On SIGTERM it stops between actions: what is left is still executing, and the next start
      // resumes it (inventory keeps each change request's answer, so nothing is applied twice).
      if Task.isShuttingDownGracefully { return }
      do {
        let stuck = try await self.store.read { db in
          // Only what an earlier process left: an action a live ExecuteAction started since is its.
          try String.fetchAll(
            db, sql: "SELECT id FROM action WHERE state = ? AND updated_at < ?",
            arguments: [ActionState.executing.rawValue, self.startedAt])
        }
        for id in stuck {
          if Task.isShuttingDownGracefully { return }
          let action = try await self.store.read { db in try ActionStore.load(id, in: db) }
          try await self.resourceLocks.run(action.resource.resourceID) {
            do {
              let outcome = try await self.perform(action)
              _ = try await self.finish(id, actor: Self.system, outcome: outcome)
            } catch let error as InventoryUnavailable {
              _ = try await self.pause(id, actor: Self.system, error: error)
            } catch let error as ServiceError {
              _ = try await self.fail(id, actor: Self.system, reason: "after a restart: \(error)")
            }
          }
        }
        if !stuck.isEmpty { self.logger.info("reconciled interrupted actions", metadata: ["count": "\(stuck.count)"]) }
        return
      } catch {
        // Cancelled (the service group is stopping, say because the server could not bind): no retry.
        if error is CancellationError || Task.isCancelled { return }
        self.logger.warning("reconciling interrupted actions failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
      }
    }
  }
}
