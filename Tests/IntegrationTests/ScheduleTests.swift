import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing

/// drift's scheduler, as a real process with its SQLite file: runs on time, never overlaps, and a
/// run missed while it was down runs once.
@Suite("Schedules", .serialized)
struct ScheduleTests {
  struct Run: Equatable {
    var id: String
    var started: Double
    var finished: Double?
    var state: Int
    var by: String
  }

  static func runs(_ cluster: Cluster, _ schedule: String) throws -> [Run] {
    try cluster.query(.drift) { db in
      try Row.fetchAll(db, sql: "SELECT id, started_at, finished_at, state, requested_by FROM job_run WHERE trigger = ? ORDER BY started_at", arguments: [schedule])
        .map { Run(id: $0["id"], started: $0["started_at"], finished: $0["finished_at"], state: $0["state"], by: $0["requested_by"]) }
    }
  }

  @Test("a 2-second interval runs on time; runs of one schedule never overlap; after kill -9 a missed run runs once; bad timings are refused")
  func scheduler() async throws {
    let cluster = try await Cluster(extraArguments: [.drift: ["--drift-schedule-min-interval-seconds", "1"]])
    @Sendable func drift<R: Sendable>(_ body: @Sendable (Fixpoint_V1_DriftService.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
      try await cluster.withClient(.drift) { try await body(Fixpoint_V1_DriftService.Client(wrapping: $0)) }
    }
    let seeded = try await drift { try await $0.listSchedules(.init()).schedules }
    #expect(seeded.map(\.name) == ["compliance_check", "drift_detection", "resource_sync"])
    #expect(seeded.first { $0.name == "drift_detection" }.map { $0.enabled && $0.intervalSeconds == 14_400 } == true)

    let set = try await drift { try await $0.updateSchedule(.with { $0.name = "drift_detection"; $0.enabled = true; $0.intervalSeconds = 2 }) }
    #expect(set.enabled && set.intervalSeconds == 2 && set.nextRunAt.date.timeIntervalSinceNow <= 2.5)
    _ = try await Cluster.eventually(timeout: 20) { try Self.runs(cluster, "drift_detection").filter { $0.finished != nil }.count >= 3 }
    // Two manual runs at once beside the timed ones: each is queued, or refused while a run is going.
    @Sendable func runNow() async -> String {
      do {
        _ = try await drift { try await $0.runSchedule(.with { $0.name = "drift_detection" }) }
        return "queued"
      } catch let error as RPCError where error.code == .failedPrecondition && error.message.contains("already running") {
        return "refused"
      } catch {
        return "\(error)"
      }
    }
    async let first = runNow()
    async let second = runNow()
    let outcomes = await [first, second]
    #expect(outcomes.allSatisfy { ["queued", "refused"].contains($0) }, "\(outcomes)")
    try await Task.sleep(for: .seconds(2))
    _ = try await drift { try await $0.updateSchedule(.with { $0.name = "drift_detection"; $0.enabled = false; $0.intervalSeconds = 3600 }) }
    _ = try await Cluster.eventually(timeout: 10) { try Self.runs(cluster, "drift_detection").allSatisfy { $0.finished != nil } }
    let runs = try Self.runs(cluster, "drift_detection")
    #expect(runs.count >= 3 && runs.allSatisfy { $0.state == JobState.succeeded }, "\(runs)")
    let timed = runs.filter { $0.by == "scheduler" }
    for (a, b) in zip(timed, timed.dropFirst()) { #expect(b.started - a.started > 1.2, "timed runs 2 s apart: \(a.started) → \(b.started)") }
    // No two runs of the schedule overlap: each starts after the one before it finished.
    for (a, b) in zip(runs, runs.dropFirst()) { #expect(b.started >= a.finished!, "overlap: \(a) and \(b)") }

    // kill -9 while the schedule is due in an hour; three slots are then missed by the clock
    // (next_run_at put 3 h back in the file): one run at the restart, and the next slot ahead.
    _ = try await drift { try await $0.updateSchedule(.with { $0.name = "drift_detection"; $0.enabled = true; $0.intervalSeconds = 3600 }) }
    _ = await cluster.stop(.drift, signal: SIGKILL)
    let before = try Self.runs(cluster, "drift_detection").count
    var config = Configuration()
    config.busyMode = .timeout(5)
    try await DatabaseQueue(path: cluster.databasePath(.drift), configuration: config).write { db in
      try db.execute(sql: "UPDATE schedule SET next_run_at = ? WHERE name = 'drift_detection'", arguments: [Date().timeIntervalSince1970 - 3 * 3600])
    }
    try cluster.start(.drift)
    try await cluster.waitUntilServing(.drift)
    _ = try await Cluster.eventually(timeout: 15) { try Self.runs(cluster, "drift_detection").count > before }
    try await Task.sleep(for: .seconds(3))
    let after = try Self.runs(cluster, "drift_detection")
    #expect(after.count == before + 1, "one run for the missed slots: \(after.count - before)")
    let next = try cluster.query(.drift) { try Double.fetchOne($0, sql: "SELECT next_run_at FROM schedule WHERE name = 'drift_detection'") }
    #expect((next ?? 0) > Date().timeIntervalSince1970 + 3500, "the next slot is ahead")

    // A cron schedule's next run is its next matching minute; bad timings change nothing.
    let cron = try await drift { try await $0.updateSchedule(.with { $0.name = "compliance_check"; $0.enabled = true; $0.cron = "*/5 * * * *" }) }
    let minute = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: cron.nextRunAt.date).minute ?? 1
    #expect(minute % 5 == 0 && cron.nextRunAt.date > Date() && cron.nextRunAt.date.timeIntervalSinceNow <= 300)
    for (request, field) in [
      (Fixpoint_V1_UpdateScheduleRequest.with { $0.name = "compliance_check"; $0.enabled = true; $0.cron = "61 * * * *" }, "cron"),
      (.with { $0.name = "compliance_check"; $0.enabled = true; $0.cron = "0 * * * *"; $0.timeZone = "Mars/Olympus" }, "time_zone"),
      (.with { $0.name = "compliance_check"; $0.enabled = true; $0.cron = "0 0 30 2 *" }, "cron"),
      (.with { $0.name = "compliance_check"; $0.enabled = true; $0.intervalSeconds = 0 }, "interval_seconds"),
      (.with { $0.name = "compliance_check"; $0.enabled = true; $0.intervalSeconds = 60; $0.cron = "0 * * * *" }, "cron"),
      (.with { $0.name = "nightly"; $0.enabled = true; $0.intervalSeconds = 60 }, "name"),
    ] {
      await #expect(performing: { _ = try await drift { try await $0.updateSchedule(request) } }, throws: { error in
        (error as? RPCError).map { $0.code == .invalidArgument && $0.message.hasPrefix(field) } ?? false
      })
    }
    let kept = try cluster.query(.drift) { try String.fetchOne($0, sql: "SELECT cron FROM schedule WHERE name = 'compliance_check'") }
    #expect(kept == "*/5 * * * *")

    // resource_sync with no provider connected: a run that says so.
    let sync = try await drift { try await $0.runSchedule(.with { $0.name = "resource_sync" }) }
    _ = try await Cluster.eventually(timeout: 10) {
      try cluster.query(.drift) { try Int.fetchOne($0, sql: "SELECT state FROM job_run WHERE id = ?", arguments: [sync.id]) } == JobState.succeeded
    }
    let message = try cluster.query(.drift) { try String.fetchOne($0, sql: "SELECT message FROM job_run WHERE id = ?", arguments: [sync.id]) }
    #expect(message == "no connected providers")
    // The operator's view says who asked for each run.
    let (listed, jobs) = try await Cluster.run(CLITests.fixpoint, ["jobs", "list", "--output", "json"], environment: CLITests.environment(cluster))
    let rows = try CLITests.json(jobs)
    #expect(listed == 0 && rows.first { $0["id"] as? String == sync.id }?["requested_by"] as? String == "admin", "\(jobs.prefix(500))")
    #expect(rows.contains { $0["trigger"] as? String == "drift_detection" && $0["requested_by"] as? String == "scheduler" })
  }
}

enum JobState {
  /// job_run.state of a run that succeeded.
  static let succeeded = Fixpoint_V1_JobProgress.State.succeeded.rawValue
}
