import FixpointCore
import FixpointProtocol
import Foundation

/// Batch selection: which of the actions an ExecuteAction call names may run now, and for each
/// that may not, why (a `NotRun`). Nothing asked about is dropped: every action either runs or is
/// answered with its reason.
extension Executor {
  typealias NotRun = Fixpoint_V1_NotRun

  /// Why `action` cannot run at `now`, or nil when it can.
  func refusal(of action: Fixpoint_V1_Action, at now: Date) -> NotRun? {
    func notRun(_ cause: NotRun.Cause, _ reason: String, opens: Date? = nil) -> NotRun {
      .with {
        $0.actionID = action.id
        $0.cause = cause
        $0.reason = reason
        if let opens { $0.nextWindowOpensAt = .init(date: opens) }
      }
    }
    if action.isGuidanceOnly, [.suggested, .pendingApproval, .approved].contains(action.state) {
      return notRun(.guidanceOnly, Self.guidanceOnly(action))
    }
    switch action.state {
    case .approved: break
    case .executing: return notRun(.inProgress, "action \(action.id) is executing in another call")
    default:
      return notRun(.notApproved, "action \(action.id) is \(Lifecycle.name(action.state)); only approved actions execute")
    }
    if action.requiresApproval, action.hasApprovalExpiresAt, action.approvalExpiresAt.date < now {
      return notRun(.approvalExpired, "the approval of action \(action.id) expired at \(action.approvalExpiresAt.date); approve it again")
    }
    guard action.tier == .t3ChangeWindow else { return nil }
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
      "action \(action.id) is tier 3: no change window is open now (\(windows.map(\.proto.cron).joined(separator: "; ")))\(when)",
      opens: opens)
  }

  /// Splits a batch by the blast-radius guard: the actions of a (provider, type) group that would
  /// change more than the allowed count, or share, of what inventory holds as active are held back,
  /// each with the reason; the other groups run.
  func blastRadius(_ batch: [Fixpoint_V1_Action]) async throws -> (allowed: [Fixpoint_V1_Action], held: [NotRun]) {
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
      let total = try await self.callInventory("count the account's resources") {
        try await self.inventory.listResources(.with {
          $0.providerID = group.providerID
          $0.type = group.type
          $0.status = .active
          $0.pageSize = 1
        }).totalSize
      }
      let share = Double(count) / Double(max(total, 1))
      if share > maxShare {
        refused[group] = "the batch would change \(count) of \(total) \(group) (\(Int((share * 100).rounded())) %), "
          + "more than dispatcher.blast.radius.max.share (\(maxShare)); none of them was changed"
      }
    }
    var (allowed, held): ([Fixpoint_V1_Action], [NotRun]) = ([], [])
    for action in batch {
      if !action.changeSet.operations.isEmpty, let why = refused[BlastGroup(providerID: action.resource.providerID, type: action.resource.type)] {
        held.append(.with { $0.actionID = action.id; $0.cause = .blastRadius; $0.reason = why })
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
