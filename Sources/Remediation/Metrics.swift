import FixpointCore
import Foundation
import GRDB
import Metrics

/// Remediation metrics, computed from the audit trail (the record of what happened) and the
/// action table, and published as gauges on /metrics after every change of state.
struct RemediationMetrics: Sendable {
  var meanTimeToRemediateSeconds: Double
  var successRate: Double
  var rollbackRate: Double
  /// Per control: how many actions came again for a resource that already had one.
  var recurrenceByControl: [String: Int64]
  var actionsByState: [String: Int64]

  static func compute(in db: Database) throws -> RemediationMetrics {
    // Time to remediate: from the suggestion to the completion, for actions that changed something.
    let durations = try Double.fetchAll(db, sql: """
      SELECT MAX(CASE WHEN to_state = 'completed' THEN at END) - MIN(CASE WHEN to_state = 'suggested' THEN at END)
      FROM audit GROUP BY action_id
      HAVING MAX(to_state = 'completed') = 1 AND MAX(to_state = 'suggested') = 1
      """)
    let counts = try Row.fetchOne(db, sql: """
      SELECT SUM(to_state = 'completed') AS completed, SUM(to_state = 'failed') AS failed,
             SUM(to_state = 'rolled_back' AND from_state = 'completed') AS rolled_back
      FROM audit
      """)
    let completed = Double(counts?["completed"] as Int? ?? 0)
    let failed = Double(counts?["failed"] as Int? ?? 0)
    let rolledBack = Double(counts?["rolled_back"] as Int? ?? 0)
    // Recurrence: actions for a control on a resource that already had one.
    let recurrence = try Row.fetchAll(db, sql: """
      SELECT control, SUM(n - 1) AS again FROM (
        SELECT COALESCE(NULLIF(f.control_id, ''), f.finding_type) AS control, a.resource_id, COUNT(*) AS n
        FROM action a JOIN finding f ON f.id = a.finding_id GROUP BY control, a.resource_id)
      GROUP BY control
      """)
    let states = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM action GROUP BY state")
    return RemediationMetrics(
      meanTimeToRemediateSeconds: durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count),
      successRate: completed + failed == 0 ? 0 : completed / (completed + failed),
      rollbackRate: completed == 0 ? 0 : rolledBack / completed,
      recurrenceByControl: Dictionary(uniqueKeysWithValues: recurrence.map { ($0["control"] as String, Int64($0["again"] as Int)) }),
      actionsByState: Dictionary(uniqueKeysWithValues: states.map {
        (ActionState(rawValue: $0["state"]).map(Lifecycle.name) ?? "unspecified", Int64($0["n"] as Int))
      }))
  }

  /// Sets the gauges `fixpoint_remediation_*`.
  static func publish(_ m: RemediationMetrics) {
    Gauge(label: "fixpoint_remediation_mean_time_to_remediate_seconds").record(m.meanTimeToRemediateSeconds)
    Gauge(label: "fixpoint_remediation_success_rate").record(m.successRate)
    Gauge(label: "fixpoint_remediation_rollback_rate").record(m.rollbackRate)
    for state in Lifecycle.states {
      Gauge(label: "fixpoint_remediation_actions", dimensions: [("state", Lifecycle.name(state))]).record(Double(m.actionsByState[Lifecycle.name(state)] ?? 0))
    }
  }
}
