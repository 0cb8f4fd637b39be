import FixpointCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The dispatcher's background work, one `Service` in its group. First it finishes the executions
/// a crash interrupted (`Executor.reconcile`). Then, with `dispatcher.auto.suggest` on, it plans
/// every finding that arrives (ASFF import, SubmitFinding, compliance.violation, drift.detected),
/// oldest first, a few side by side, and records on the finding what planning made of it; and, alongside, it executes the actions
/// it planned that policy lets run without approval, through the same `Executor.execute` as an
/// operator's call: the tiers' concurrency, the change windows and the blast-radius guard hold. An
/// action not run (a closed window, the blast radius, an outage) is tried again when its window
/// opens, or after a minute; an action an operator suggested waits for the operator's execute.
final class Autopilot: Service, Sendable {
  let executor: Executor
  let findings: FindingStore
  let enabled: Bool
  let logger: Logger
  private let schedule = Mutex(Schedule())

  /// When automatic execution looks at approved actions again.
  struct Schedule {
    /// Set when planning made an action that may run now (and at start, for what a stop left).
    var due = true
    /// Per action not run: when to try it again.
    var retryAt: [String: Date] = [:]
  }

  /// How long an action not run waits before it is tried again when nothing says when.
  static let retryDelay: TimeInterval = 60
  /// Findings planned side by side (each waits on inventory's answers; one at a time left the
  /// cores idle while an estate's findings queued).
  static let planningWidth = 4
  /// How long planning waits for an unreachable inventory before the next finding.
  static let outagePause: Duration = .seconds(5)

  init(executor: Executor, findings: FindingStore, enabled: Bool, logger: Logger) {
    self.executor = executor
    self.findings = findings
    self.enabled = enabled
    self.logger = logger
  }

  func run() async throws {
    await self.executor.reconcile()
    // Planning and automatic execution side by side: a batch starts with what planning has made
    // so far, while planning goes on (execution used to wait until nothing was left unplanned).
    // One execution batch at a time, so the tiers' limits hold.
    await withDiscardingTaskGroup { group in
      group.addTask {
        await JobQueue.run(
          "finding", logger: self.logger, recover: {},
          next: { self.enabled ? try await self.findings.nextUnplanned(Self.planningWidth) : nil },
          execute: { findings in await withDiscardingTaskGroup { group in for f in findings { group.addTask { await self.plan(f) } } } })
      }
      group.addTask {
        await JobQueue.run(
          "automatic execution", logger: self.logger, recover: {}, next: { nil as Never? }, execute: { _ in },
          idle: { if self.enabled { try await self.executeDue() } })
      }
    }
  }

  /// Plans one finding as the dispatcher (so a person may approve it), and records the outcome.
  func plan(_ finding: FindingRecord) async {
    let outcome: String
    var resolve = false
    do {
      let action = try await self.executor.suggest(findingID: finding.id, by: Executor.system)
      outcome = "action \(action.id) (\(action.state))"
      if action.state == .approved, !action.requiresApproval { self.schedule.withLock { $0.due = true } }
    } catch is Executor.InventoryUnavailable {
      // Left unplanned: the next turn tries again once inventory answers.
      self.logger.warning("planning paused: inventory unreachable", metadata: ["finding": "\(finding.id)"])
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.outagePause) }
      return
    } catch let ServiceError.failedPrecondition(why) {
      // "already compliant: …", "no handler fixes …", "… names no inventory resource …"
      outcome = why
      resolve = why.hasPrefix("already compliant")
    } catch {
      outcome = "not planned: \(error)"
    }
    do {
      try await self.findings.setPlanning(finding.id, outcome, resolve: resolve)
      self.logger.info("finding planned", metadata: ["finding": "\(finding.id)", "outcome": "\(outcome)"])
    } catch {
      self.logger.error("recording a finding's planning failed", metadata: ["finding": "\(finding.id)", "error": "\(error)"])
    }
  }

  /// Executes the approved actions the dispatcher planned itself and policy lets run without an
  /// approval, skipping those waiting for a retry time.
  func executeDue() async throws {
    let now = Date()
    let due = self.schedule.withLock { s -> Bool in
      let retry = s.retryAt.values.contains { $0 <= now }
      defer { s.due = false }
      return s.due || retry
    }
    guard due else { return }
    let approved = try await self.executor.store.read { db in
      try Data.fetchAll(db, sql: "SELECT message FROM action WHERE state = ? ORDER BY created_at", arguments: [ActionState.approved.rawValue])
    }
    let automatic = try approved.map(Action.init(serializedBytes:))
      .filter { !$0.requiresApproval && $0.requested.subject == Executor.system.subject }
    let waiting = self.schedule.withLock { s in
      let still = Set(automatic.map(\.id))
      s.retryAt = s.retryAt.filter { still.contains($0.key) }  // ran, or left approved by someone else's call
      return s.retryAt
    }
    let ids = automatic.filter { (waiting[$0.id] ?? now) <= now }.map(\.id)
    guard !ids.isEmpty else { return }
    let execution = try await self.executor.execute(ids, by: Executor.system)
    let after = Date()
    self.schedule.withLock { s in
      for id in ids { s.retryAt[id] = nil }
      for n in execution.notRun {
        s.retryAt[n.actionID] = switch n.cause {
        case .windowClosed where n.nextWindowOpensAt != nil: n.nextWindowOpensAt!
        case .inventoryUnavailable: after.addingTimeInterval(5)
        default: after.addingTimeInterval(Self.retryDelay)
        }
      }
    }
    self.logger.info(
      "automatic execution", metadata: ["ran": "\(execution.ran.count)", "not_run": "\(execution.notRun.count)"])
  }
}
