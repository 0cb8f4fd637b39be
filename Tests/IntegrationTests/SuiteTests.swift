import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Testing
import TestSupport

@Suite("Five services as real processes", .serialized)
struct SuiteTests {
  @Test("each service is healthy and answers an authenticated call; bad callers never reach a handler")
  func healthAndCalls() async throws {
    let cluster = try await Cluster()

    let providers = try await cluster.withClient(.inventory) { try await Fixpoint_V1_InventoryService.Client(wrapping: $0).listProviders(.init()) }
    #expect(providers.providers.isEmpty)
    let schedules = try await cluster.withClient(.drift) { try await Fixpoint_V1_DriftService.Client(wrapping: $0).listSchedules(.init()) }
    #expect(schedules.schedules.map(\.name) == ["compliance_check", "drift_detection", "resource_sync"])
    let frameworks = try await cluster.withClient(.compliance) { try await Fixpoint_V1_ComplianceService.Client(wrapping: $0).listFrameworks(.init()) }
    #expect(frameworks.frameworks.map(\.id).contains("fsbp"))
    let policy = try await cluster.withClient(.dispatcher) { try await Fixpoint_V1_RemediationService.Client(wrapping: $0).getPolicy(.init()) }
    #expect(policy.requireApproval)
    let alert = try await cluster.withClient(.notifier) {
      try await Fixpoint_V1_NotifierService.Client(wrapping: $0).createAlert(.with {
        $0.title = "disk almost full"
        $0.severity = .high
      })
    }
    // Read back from the notifier's own file, not from the call's answer.
    let stored = try cluster.query(.notifier) { try Row.fetchOne($0, sql: "SELECT title, created_by FROM alert WHERE id = ?", arguments: [alert.id]) }
    #expect(stored?["title"] == "disk almost full")
    #expect(stored?["created_by"] == "admin")

    // A schedule change, read back from drift's file.
    _ = try await cluster.withClient(.drift) {
      try await Fixpoint_V1_DriftService.Client(wrapping: $0).updateSchedule(.with { $0.name = "resource_sync"; $0.enabled = true; $0.intervalSeconds = 600 })
    }
    let enabled = try cluster.query(.drift) { try Row.fetchOne($0, sql: "SELECT enabled, interval_seconds FROM schedule WHERE name = 'resource_sync'") }
    #expect(enabled?["enabled"] == true)
    #expect(enabled?["interval_seconds"] == 600)

    // No token, a viewer writing, and a bad argument: refused, and nothing written.
    await #expect { _ = try await cluster.withClient(.notifier, token: "") {
      try await Fixpoint_V1_NotifierService.Client(wrapping: $0).createAlert(.with { $0.title = "x"; $0.severity = .low }) }
    } throws: { ($0 as? RPCError)?.code == .unauthenticated }
    let viewer = try await cluster.token(role: .viewer)
    await #expect { _ = try await cluster.withClient(.notifier, token: viewer) {
      try await Fixpoint_V1_NotifierService.Client(wrapping: $0).createAlert(.with { $0.title = "x"; $0.severity = .low }) }
    } throws: { ($0 as? RPCError)?.code == .permissionDenied }
    await #expect { _ = try await cluster.withClient(.notifier) {
      try await Fixpoint_V1_NotifierService.Client(wrapping: $0).createAlert(.with { $0.title = ""; $0.severity = .low }) }
    } throws: { ($0 as? RPCError).map { $0.code == .invalidArgument && $0.message.hasPrefix("title") } ?? false }
    #expect(try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert") } == 1)


    // Metrics count the calls.
    let (_, metrics) = try await Cluster.run("/usr/bin/env", ["curl", "-s", "http://127.0.0.1:\(cluster.metricsPort(.notifier))/metrics"])
    #expect(metrics.contains("fixpoint_rpc_requests_total{method=\"fixpoint.v1.NotifierService/CreateAlert\",code=\"ok\"} 1"))
  }

  @Test("an event reaches the receiver; while it is down events wait in the outbox and take effect once after restart")
  func eventsSurviveAReceiverOutage() async throws {
    // Imported findings raise alerts only when the rule table says so.
    let cluster = try await Cluster(extraArguments: [.notifier: ["--notifier-alert-rules", "finding.submitted:info"]])
    @Sendable func submit(_ n: Int) async throws -> String {
      try await cluster.withClient(.dispatcher) {
        try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(.with {
          $0.requestID = "req-\(n)"
          $0.finding = .with {
            $0.controlID = "S3.8"
            $0.severity = .high
            $0.resource = .with { $0.externalID = "arn:aws:s3:::bucket-\(n)"; $0.type = "s3_bucket" }
          }
        }).id
      }
    }
    let first = try await cluster.withClient(.dispatcher) {
      try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(
        .with { $0.finding = .with { $0.controlID = "S3.1"; $0.severity = .high; $0.resource = .with { $0.externalID = "arn:aws:s3:::bucket-0" } } },
        metadata: [RequestContext.metadataKey: "req_tracethis0001"]).id
    }
    #expect(try await Cluster.eventually {
      try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert WHERE event_type = 'finding.submitted' AND subject = ?", arguments: [first]) } == 1
    })

    // The request id travels with the event: both services log it.
    #expect(try await Cluster.eventually {
      let dispatcherLog = try String(contentsOfFile: cluster.logPath(.dispatcher), encoding: .utf8)
      let notifierLog = try String(contentsOfFile: cluster.logPath(.notifier), encoding: .utf8)
      return dispatcherLog.contains(#""request_id":"req_tracethis0001""#) && notifierLog.contains(#""origin.request_id":"req_tracethis0001""#)
    })

    // The receiver dies hard; events pile up in the dispatcher's outbox. (Only once the first
    // event's acknowledgement is recorded: on a loaded machine the kill could otherwise land
    // between the notifier's answer and the relay's record of it, leaving a sixth event waiting.)
    #expect(try await Cluster.eventually {
      try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") } == 0
    })
    #expect(await cluster.stop(.notifier, signal: SIGKILL) != nil)
    var ids: [String] = []
    for n in 1...5 { ids.append(try await submit(n)) }
    // A retried submission (same request id) neither duplicates the finding nor the event.
    _ = try await submit(3)
    try await Task.sleep(for: .milliseconds(500))
    let waiting = try cluster.query(.dispatcher) {
      try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox WHERE destination = 'notifier' AND delivered_at IS NULL")
    }
    #expect(waiting == 5)
    #expect(try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM finding") } == 6)

    try cluster.start(.notifier)
    try await cluster.waitUntilServing(.notifier)
    #expect(try await Cluster.eventually {
      try cluster.query(.dispatcher) {
        try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
      } == 0
    })
    let alerts = try cluster.query(.notifier) {
      try Row.fetchAll($0, sql: "SELECT subject, COUNT(*) AS n FROM alert WHERE event_type = 'finding.submitted' GROUP BY subject")
    }
    #expect(Set(alerts.map { $0["subject"] as String }) == Set([first] + ids))
    #expect(alerts.allSatisfy { ($0["n"] as Int) == 1 }, "each event took effect exactly once")

    // The alert is visible through the API too, with the finding's severity.
    let listed = try await cluster.withClient(.notifier) {
      try await Fixpoint_V1_NotifierService.Client(wrapping: $0).listAlerts(.with { $0.eventType = "finding.submitted" })
    }
    #expect(listed.alerts.count == 6)
    #expect(listed.alerts.allSatisfy { $0.severity == .high })
  }

  @Test("a service given a flag that names no key refuses to start, naming it, instead of running on the default")
  func unknownFlag() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fp-flags-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for service in ServiceName.allCases {
      // The peer flag is spelt with the service's executable name, not its key: a typo an operator makes.
      let wrong = service == .dispatcher ? "--notifier-adr" : "--remediation-dispatcher-addr"
      let (status, output) = try await Cluster.run(Cluster.binDir + "/" + service.executable, ["--data-dir", dir, wrong, "127.0.0.1:1"])
      #expect(status == 2 && output.contains("unknown flag \(wrong)") && output.contains("--help"), "\(service): \(status) \(output)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir), "nothing was created")
  }

  @Test("SIGTERM stops every service cleanly within 5 seconds")
  func sigtermStopsQuickly() async throws {
    let cluster = try await Cluster()
    for service in ServiceName.allCases {
      let stopped = await cluster.stop(service, signal: SIGTERM)
      #expect(stopped != nil, "\(service.rawValue) did not stop")
      if let (elapsed, status) = stopped {
        #expect(elapsed < .seconds(5), "\(service.rawValue) took \(elapsed)")
        #expect(status == 0, "\(service.rawValue) exited with \(status)")
      }
    }
  }

  @Test("a Python grpcio client with stubs generated from proto/ gets the same answers")
  func pythonInterop() async throws {
    let cluster = try await Cluster()
    let script = Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/interop.py").path
    let viewer = try await cluster.token(role: .viewer)
    let (status, output) = try await Cluster.run(try TestPython.interpreter(), [
      script, "--proto-dir", Cluster.root.appendingPathComponent("proto").path,
      "--admin-token", cluster.adminToken, "--viewer-token", viewer,
    ] + ServiceName.allCases.flatMap { ["--addr", "\($0.key)=127.0.0.1:\(cluster.grpcPort($0))"] })
    #expect(status == 0, "\(output)")
    #expect(output.contains("interop ok"))
    // The alert the Python client created is in the notifier's file.
    #expect(try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert WHERE title = 'from python'") } == 1)
  }

  @Test("fixpoint status reports all five as serving, as a table and as JSON")
  func status() async throws {
    let cluster = try await Cluster()
    let env = Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ("FIXPOINT_\($0.key.uppercased())_ADDR", cluster.address($0).description) })
    let (code, output) = try await Cluster.run(Cluster.binDir + "/fixpoint", ["status", "--output", "json"], environment: env)
    #expect(code == 0, "\(output)")
    let rows = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: String]]
    #expect(rows?.count == 5)
    #expect(rows?.allSatisfy { $0["status"] == "serving" && $0["version"] == FixpointVersion.current } == true)
    _ = await cluster.stop(.drift, signal: SIGKILL)
    let (down, table) = try await Cluster.run(Cluster.binDir + "/fixpoint", ["status"], environment: env)
    #expect(down == 3)
    #expect(table.contains("unreachable"))
  }
}
