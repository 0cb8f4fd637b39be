import FixpointControls
import Foundation

/// How an assessment's results add up, without I/O: per control, per requirement, per framework.
enum Scoring {
  /// Result counts of one control in one assessment, by status.
  typealias ControlCounts = [ResultStatus: Int]

  /// A control's state across its resources: failed if any result fails; passed if some pass and
  /// none fails or could not be evaluated; otherwise no data (no resource, or only waived, not
  /// applicable or not evaluated ones). Security Hub's control status, with waived = suppressed.
  enum ControlState: Equatable { case passed, failed, noData }

  static func state(_ counts: ControlCounts?) -> ControlState {
    guard let counts else { return .noData }
    if (counts[.fail] ?? 0) > 0 { return .failed }
    if (counts[.pass] ?? 0) > 0 && (counts[.notEvaluated] ?? 0) == 0 { return .passed }
    return .noData
  }

  struct Score: Codable, Equatable {
    var framework: String
    var passed: Int
    var failed: Int
    var withData: Int
    /// passed / controls with data; 0 with no data.
    var score: Double { self.withData == 0 ? 0 : Double(self.passed) / Double(self.withData) }
  }

  /// The framework's score over the controls assessed (Security Hub: no-data controls are out of
  /// the denominator, so a framework with nothing deployed cannot look compliant).
  static func score(_ framework: Framework, counts: [String: ControlCounts]) -> Score {
    let controls = Set(framework.requirements.flatMap(\.controls)).filter { counts[$0] != nil }
    let states = controls.map { Self.state(counts[$0]) }
    let passed = states.filter { $0 == .passed }.count
    let failed = states.filter { $0 == .failed }.count
    return Score(framework: framework.id, passed: passed, failed: failed, withData: passed + failed)
  }

  enum RequirementState: Int, Codable { case pass = 1, fail = 2, manual = 3, noData = 4 }

  struct RequirementOutcome: Codable, Equatable {
    var id: String
    var title: String
    var state: RequirementState
    var controls: [String]
    var failedResults: Int
  }

  /// A requirement fails if a mapped control fails on any resource; is manual when any mapped
  /// control is not automated here (or it has none); passes only when every mapped control passed;
  /// otherwise has no data. `assessed` are the controls this assessment ran.
  static func requirement(_ r: Requirement, counts: [String: ControlCounts], assessed: Set<String>) -> RequirementOutcome {
    let failedResults = r.controls.reduce(0) { $0 + (counts[$1]?[.fail] ?? 0) }
    let automated = r.controls.allSatisfy { ControlCatalogue.byID[$0]?.automated == true }
    let state: RequirementState
    if failedResults > 0 {
      state = .fail
    } else if r.controls.isEmpty || !automated {
      state = .manual
    } else if r.controls.allSatisfy({ assessed.contains($0) && Self.state(counts[$0]) == .passed }) {
      state = .pass
    } else {
      state = .noData
    }
    let title = r.title.isEmpty ? (r.controls.count == 1 ? ControlCatalogue.byID[r.controls[0]]?.title ?? "" : "") : r.title
    return RequirementOutcome(id: r.id, title: title, state: state, controls: r.controls, failedResults: failedResults)
  }

  /// What an assessment records when it finishes.
  struct Summary: Codable, Equatable {
    var scores: [Score] = []
    var requirements: [RequirementOutcome] = []
    var counts: [String: Int] = [:]
    var failedBySeverity: [String: Int] = [:]
    var newFailures = 0
    var newlyFixed = 0
  }

  /// The summary of `framework`'s assessment: its score first, then every other framework the
  /// assessed controls evidence; each of its requirements.
  static func summary(
    framework: Framework, counts: [String: ControlCounts], assessed: Set<String>, failedBySeverity: [String: Int],
    newFailures: Int, newlyFixed: Int
  ) -> Summary {
    var totals: [String: Int] = [:]
    for (_, c) in counts { for (status, n) in c { totals["\(status)", default: 0] += n } }
    let others = FrameworkCatalogue.all.filter { f in
      f.id != framework.id && f.requirements.contains { $0.controls.contains(where: assessed.contains) }
    }
    return Summary(
      scores: [Self.score(framework, counts: counts)] + others.map { Self.score($0, counts: counts) },
      requirements: framework.requirements.map { Self.requirement($0, counts: counts, assessed: assessed) },
      counts: totals, failedBySeverity: failedBySeverity, newFailures: newFailures, newlyFixed: newlyFixed)
  }
}
