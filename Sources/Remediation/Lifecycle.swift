import FixpointCore

/// The remediation lifecycle as a pure function: which state an action may move to from which.
///
///     suggested ──▶ pending_approval ──▶ approved ──▶ executing ──▶ completed ──▶ rolled_back
///         │                 │               ▲              │                          ▲
///         └── (no approval needed) ─────────┘◀─ (paused) ─┤└──▶ failed ───────────────┘
///                           ▲               ▲                      │ (retry: a new attempt)
///                           └───────────────┴──────────────────────┘
///                           └──▶ rejected
enum Lifecycle {
  typealias State = ActionState

  /// Every state an action can be in.
  static let states = State.allCases

  /// The legal moves.
  static let moves: [State: Set<State>] = [
    .suggested: [.pendingApproval, .approved],
    .pendingApproval: [.approved, .rejected],
    .approved: [.executing],
    // Back to approved when inventory could not be reached: the next execute resumes it.
    .executing: [.completed, .failed, .approved],
    .completed: [.rolledBack],
    // A failed verification can be undone automatically, by configuration; or an operator
    // retries it as a new attempt (through approval again when it needs one).
    .failed: [.rolledBack, .approved, .pendingApproval],
  ]

  /// States nothing leaves.
  static func isFinal(_ s: State) -> Bool { (Self.moves[s] ?? []).isEmpty }

  /// Refuses an illegal move with FAILED_PRECONDITION naming both states.
  static func check(from: State, to: State) throws(ServiceError) {
    guard Self.moves[from]?.contains(to) == true else {
      let allowed = (Self.moves[from] ?? []).map(Self.name).sorted()
      throw .failedPrecondition(
        "an action cannot go from \(Self.name(from)) to \(Self.name(to))"
          + (allowed.isEmpty ? " (\(Self.name(from)) is final)" : " (from \(Self.name(from)) it can go to \(allowed.joined(separator: ", ")))"))
    }
  }

  /// `pending_approval`, `rolled_back`, …
  static func name(_ s: State) -> String { s.description }
}
