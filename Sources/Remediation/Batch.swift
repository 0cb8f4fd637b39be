import FixpointCore
import Foundation

/// Batch selection: which of the actions an ExecuteAction call names may run now, and for each
/// that may not, why (a `NotRun`). Nothing asked about is dropped: every action either runs or is
/// answered with its reason.
extension Executor {
  /// Why `action` cannot run at `now`, or nil when it can.
  func refusal(of action: Action, at now: Date) -> NotRun? {
    func notRun(_ cause: NotRun.Cause, _ reason: String, opens: Date? = nil) -> NotRun {
      NotRun(actionID: action.id, cause: cause, reason: reason, nextWindowOpensAt: opens)
    }
    if action.isGuidanceOnly, [.suggested, .pendingApproval, .approved].contains(action.state) {
      return notRun(.guidanceOnly, Self.guidanceOnly(action))
    }
    switch action.state {
    case .approved: break
    case .executing: return notRun(.inProgress, "action \(action.id) is executing in another call")
    default:
      return notRun(.notApproved, "action \(action.id) is \(action.state); only approved actions execute")
    }
    if action.requiresApproval, let expiry = action.approvalExpiresAt, expiry < now {
      return notRun(.approvalExpired, "the approval of action \(action.id) expired at \(expiry); approve it again")
    }
    guard action.tier == .changeWindow else { return nil }
    let windows = self.policy.changeWindows
    guard !windows.isEmpty else {
      return notRun(
        .noChangeWindow,
        "action \(action.id) is tier 3: it executes only inside a change window, and none is configured (dispatcher.change.windows)")
    }
    guard !windows.contains(where: { $0.isOpen(at: now) }) else { return nil }
    let opens = windows.compactMap { $0.cron.next(after: now, in: $0.timeZone) }.min()
    let when = opens.map { "; the next opens at \($0.formatted(.iso8601))" } ?? ""
    return notRun(
      .windowClosed,
      "action \(action.id) is tier 3: no change window is open now (\(windows.map(\.cronText).joined(separator: "; ")))\(when)",
      opens: opens)
  }

  /// Splits a batch by the blast-radius guard: the actions of a (provider, type) group that would
  /// change more than the allowed count, or share, of what inventory holds as active are held back,
  /// each with the reason; the other groups run.
  func blastRadius(_ batch: [Action]) async throws -> (allowed: [Action], held: [NotRun]) {
    let (maxCount, maxShare) = (self.policy.blastRadiusMaxCount, self.policy.blastRadiusMaxShare)
    guard maxCount > 0 || maxShare > 0 else { return (batch, []) }
    let groups = Dictionary(grouping: batch.filter { !$0.changeSet.operations.isEmpty }) {
      BlastGroup(providerID: $0.resource.providerID, type: $0.resource.type)
    }
    var refused: [BlastGroup: String] = [:]
    for (group, actions) in groups.sorted(by: { $0.key.description < $1.key.description }) {
      let count = Set(actions.map(\.resource.resourceID)).count
      if maxCount > 0, count > maxCount {
        refused[group] = "the batch would change \(count) \(group), more than dispatcher.blast.radius.max.count (\(maxCount)); none of them was changed"
        continue
      }
      guard maxShare > 0 else { continue }
      let total = try await self.inventory.activeCount(providerID: group.providerID, type: group.type)
      let share = Double(count) / Double(max(total, 1))
      if share > maxShare {
        refused[group] = "the batch would change \(count) of \(total) \(group) (\(Int((share * 100).rounded())) %), "
          + "more than dispatcher.blast.radius.max.share (\(maxShare)); none of them was changed"
      }
    }
    var (allowed, held): ([Action], [NotRun]) = ([], [])
    for action in batch {
      if !action.changeSet.operations.isEmpty, let why = refused[BlastGroup(providerID: action.resource.providerID, type: action.resource.type)] {
        held.append(NotRun(actionID: action.id, cause: .blastRadius, reason: why))
      } else {
        allowed.append(action)
      }
    }
    return (allowed, held)
  }

  struct BlastGroup: Hashable, CustomStringConvertible {
    let providerID: String
    let type: String
    var description: String { "\(self.type) resources of provider \(self.providerID)" }
  }
}
