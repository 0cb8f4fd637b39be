import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Issue 15's bounds, on the five services as real processes.
@Suite("Bounds: hostile input and silent peers", .serialized)
struct BoundsTests {
  @Test("an error quotes a bounded prefix of a 1 MiB value (no oversized metadata hiding it), no log line carries it; connections that stay silent or stop halfway through the HTTP/2 preface are closed, and those over grpc.max.connections at once; answers are capped in bytes; a request over 16 MiB is refused naming the limit")
  func bounds() async throws {
    let cluster = try await Cluster(extraArguments: [
      .compliance: ["--grpc-handshake-timeout-seconds", "2", "--grpc-max-connections", "12"], .inventory: ["--inventory-connect-timeout", "3"],
    ])
    let huge = String(repeating: "T", count: 1 << 20)
    func refusedBriefly(_ field: String) -> @Sendable (any Error) -> Bool {
      { error in
        guard let e = error as? RPCError else { return false }
        return e.code == .invalidArgument && e.message.hasPrefix(field) && e.message.utf8.count <= Bounded.errorMessage
      }
    }
    await #expect(performing: {
      try await cluster.withClient(.compliance) { _ = try await Fixpoint_V1_ComplianceService.Client(wrapping: $0).runAssessment(.with { $0.frameworkID = huge }) }
    }, throws: refusedBriefly("framework_id"))
    @Sendable func connect(_ name: String, _ edit: @escaping @Sendable (inout Fixpoint_V1_ConnectProviderRequest) -> Void) async throws {
      _ = try await cluster.withClient(.inventory) {
        try await Fixpoint_V1_InventoryService.Client(wrapping: $0).connectProvider(.with {
          $0.requestID = "bounds-\(name)"
          $0.kind = .aws
          $0.displayName = name
          $0.aws = .with { $0.accessKeyID = "AKIAFIXPOINTTEST0001"; $0.secretAccessKey = "x" }
          edit(&$0)
        })
      }
    }
    await #expect(performing: { try await connect("bounds") { $0.regions = [huge] } }, throws: refusedBriefly("regions"))
    await #expect(performing: {
      try await cluster.withClient(.dispatcher) {
        _ = try await Fixpoint_V1_RemediationService.Client(wrapping: $0).updatePolicy(.with {
          $0.policy.changeWindows = [.with { $0.cron = huge; $0.durationSeconds = 3600; $0.timeZone = "UTC" }]
          $0.updateMask = ["change_windows"]
        })
      }
    }, throws: refusedBriefly("policy.change_windows"))
    for service in [ServiceName.compliance, .inventory, .dispatcher] {
      let log = try String(contentsOfFile: cluster.logPath(service), encoding: .utf8)
      #expect(!log.contains(String(repeating: "T", count: Bounded.logField + 1)), "\(service) logged the value whole")
    }

    // A TCP connection that never speaks, and one that stops in the middle of the HTTP/2 preface:
    // both closed by the server after grpc.handshake.timeout.seconds (2 here).
    let script = """
      import json, socket, sys, time
      def closed_after(first):
          s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
          s.sendall(first)
          s.settimeout(30)
          start = time.monotonic()
          try:
              while s.recv(4096):
                  pass
          except (ConnectionResetError, socket.timeout):
              pass
          return round(time.monotonic() - start, 2)
      print(json.dumps([closed_after(b""), closed_after(b"PRI * HTTP/2.0\\r\\n")]))
      """
    let (status, out, err) = try await runCommand([try TestPython.interpreter(), "-c", script, "\(cluster.grpcPort(.compliance))"])
    try #require(status == 0, "\(err)")
    let seconds = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [Double] ?? []
    #expect(seconds.count == 2 && seconds.allSatisfy { $0 < 6 }, "closed after \(seconds) s")
    try await cluster.waitUntilServing(.compliance, timeout: 5)

    // 20 silent sockets against grpc.max.connections 12 (the peers hold a few of those): the
    // ones over the cap are closed at once, those admitted only at the handshake limit; once
    // they are gone the service serves again.
    let flood = """
      import socket, sys, time
      socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(20)]
      time.sleep(0.8)
      closed = 0
      for s in socks:
          s.setblocking(False)
          try:
              closed += s.recv(1) == b""
          except BlockingIOError:
              pass
          except ConnectionResetError:
              closed += 1
      print(closed)
      """
    let (floodStatus, floodOut, floodErr) = try await runCommand([try TestPython.interpreter(), "-c", flood, "\(cluster.grpcPort(.compliance))"])
    try #require(floodStatus == 0, "\(floodErr)")
    let refusedAtOnce = Int(floodOut.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    #expect(refusedAtOnce >= 8 && refusedAtOnce < 20, "\(refusedAtOnce) of 20 closed at once")
    try await cluster.waitUntilServing(.compliance, timeout: 10)
    let log = try String(contentsOfFile: cluster.logPath(.compliance), encoding: .utf8)
    #expect(log.contains("grpc.max.connections"))

    // ConnectProvider against an STS that is not there (a closed loopback port): UNAVAILABLE
    // naming the endpoint within inventory.connect.timeout (3 s here), and nothing recorded.
    let closed = try await Self.closedPort()
    let start = ContinuousClock.now
    await #expect(performing: { try await connect("nowhere") { $0.endpoint = "http://127.0.0.1:\(closed)" } }, throws: { error in
      guard let e = error as? RPCError else { return false }
      return e.code == .unavailable && e.message.contains("127.0.0.1:\(closed)") && e.message.contains("inventory.connect.timeout")
    })
    #expect(ContinuousClock.now - start < .seconds(8), "answered after \(ContinuousClock.now - start)")
    #expect(try cluster.query(.inventory) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM provider") } == 0)

    // A listing asked for 2^31−1 rows of 9 KB alerts: each answer stays within Page.maxBytes, and
    // following the tokens lists every alert once.
    let ids = try await NotifierTests.client(cluster) { n in
      var ids: [String] = []
      for i in 0..<600 { ids.append(try await n.createAlert(.with { $0.title = "big \(i)"; $0.severity = .low; $0.body = String(repeating: "b", count: 9000) }).id) }
      return ids
    }
    var listed: [String] = []
    var token = ""
    var pages = 0
    repeat {
      let page = try await NotifierTests.client(cluster) { [token] in try await $0.listAlerts(.with { $0.pageSize = Int32.max; $0.pageToken = token }) }
      #expect(try (page.serializedBytes() as [UInt8]).count <= Page.maxBytes + 4096)
      listed += page.alerts.map(\.id)
      token = page.nextPageToken
      pages += 1
    } while !token.isEmpty && pages < 10
    #expect(pages > 1 && Set(listed) == Set(ids) && listed.count == ids.count, "\(pages) pages, \(listed.count) alerts")

    // A request over the 16 MiB limit: RESOURCE_EXHAUSTED naming the limit (the transport alone
    // reset the stream, which clients reported as CANCELLED), from grpc-swift and from grpcio,
    // nothing stored, and the same connection serves the next call.
    let alertsBefore = try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert") }
    let oversized = Fixpoint_V1_CreateAlertRequest.with { $0.title = "too big"; $0.severity = .low; $0.body = String(repeating: "b", count: 17 << 20) }
    func namesTheLimit(_ error: any Error) -> Bool {
      guard let e = error as? RPCError else { return false }
      return e.code == .resourceExhausted && e.message.contains("limit of \(16 << 20) bytes")
    }
    await #expect(performing: {
      try await NotifierTests.client(cluster) { n in
        var options = CallOptions.defaults
        options.maxRequestMessageBytes = 64 << 20
        _ = try await n.createAlert(oversized, options: options)
      }
    }, throws: namesTheLimit)
    let body = FileManager.default.temporaryDirectory.appendingPathComponent("oversized-\(UUID().uuidString).bin")
    try Data(oversized.serializedBytes() as [UInt8]).write(to: body)
    defer { try? FileManager.default.removeItem(at: body) }
    let grpcio = """
      import grpc, json, sys
      channel = grpc.insecure_channel(sys.argv[1], options=[("grpc.max_send_message_length", -1)])
      call = channel.unary_unary("/fixpoint.v1.NotifierService/CreateAlert")
      metadata = [("authorization", "Bearer " + sys.argv[3])]
      try:
          call(open(sys.argv[2], "rb").read(), metadata=metadata, timeout=60)
          first = ["OK", ""]
      except grpc.RpcError as e:
          first = [e.code().name, e.details()]
      listing = channel.unary_unary("/fixpoint.v1.NotifierService/ListAlerts")
      listing(b"", metadata=metadata, timeout=30)
      print(json.dumps(first))
      """
    let (pyStatus, pyOut, pyErr) = try await runCommand([try TestPython.interpreter(), "-c", grpcio, "127.0.0.1:\(cluster.grpcPort(.notifier))", body.path, cluster.adminToken])
    try #require(pyStatus == 0, "\(pyErr)")
    let answer = try JSONSerialization.jsonObject(with: Data(pyOut.utf8)) as? [String] ?? []
    #expect(answer.first == "RESOURCE_EXHAUSTED" && answer.last?.contains("limit of \(16 << 20) bytes") == true, "\(answer)")
    #expect(try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert") } == alertsBefore)
  }

  @Test("DeliverEvents validates events like requests: SQL and NUL in ids, unknown sources, 5 MB types and unknown severities are rejected by position, nothing of them stored or logged whole; a valid event in the same call applies once")
  func hostileEvents() async throws {
    let cluster = try await Cluster()
    let good = NotifierTests.violation(1)
    func bad(_ change: (inout Fixpoint_V1_Event) -> Void) -> Fixpoint_V1_Event {
      var e = NotifierTests.violation(2)
      change(&e)
      return e
    }
    let huge = String(repeating: "x", count: 5 << 20)
    let hostile = [
      bad { $0.id = "' OR 1=1 --" }, bad { $0.id = "evt_a\u{0}b" }, bad { $0.id = "evt_" + String(repeating: "a", count: 200) },
      bad { $0.source = "mallory" }, bad { $0.type = huge }, bad { $0.source = huge }, bad { $0.type = "Compliance.Violation" },
      bad { $0.severity = .UNRECOGNIZED(-5) }, bad { $0.subject = huge },
    ]
    let inboxBefore = try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM inbox") ?? 0 }
    let token = try await cluster.token(role: .service, subject: "compliance")
    let answer = try await cluster.withClient(.notifier, token: token) { client in
      try await Fixpoint_V1_EventSink.Client(wrapping: client).deliverEvents(.with { $0.events = hostile + [good] })
    }
    #expect(answer.rejected.map(\.index) == Array(0..<Int32(hostile.count)), "\(answer.rejected.map { ($0.index, $0.reason) })")
    #expect(answer.acceptedIds == [good.id] && answer.duplicateIds.isEmpty)
    #expect(answer.rejected.allSatisfy { $0.id.utf8.count <= 128 })
    // Read back from the notifier's file: only the good event is in the inbox and raised an alert.
    let inbox = try cluster.query(.notifier) { try String.fetchAll($0, sql: "SELECT event_id FROM inbox") }
    #expect(inbox.count == inboxBefore + 1 && inbox.contains(good.id), "\(inbox)")
    let log = try String(contentsOfFile: cluster.logPath(.notifier), encoding: .utf8)
    #expect(!log.contains(String(repeating: "x", count: Bounded.logField + 1)))
    #expect(log.components(separatedBy: "event rejected").count - 1 == hostile.count)
  }

  @Test("enum values the protos do not declare and timestamps outside 1970–9999 are refused in any request, before a handler runs, and change nothing")
  func requestShape() async throws {
    let cluster = try await Cluster()
    func refused(_ field: String) -> @Sendable (any Error) -> Bool {
      { error in
        guard let e = error as? RPCError else { return false }
        return e.code == .invalidArgument && e.message.contains(field)
      }
    }
    await #expect(performing: {
      try await NotifierTests.client(cluster) { _ = try await $0.listAlerts(.with { $0.minSeverity = .UNRECOGNIZED(-5) }) }
    }, throws: refused("min_severity: -5 is not one of the values"))
    let finding = { (change: @Sendable (inout Fixpoint_V1_Finding) -> Void) in
      Fixpoint_V1_SubmitFindingRequest.with { r in
        r.finding = .with {
          $0.source = "test"
          $0.controlID = "S3.8"
          $0.title = "shape"
          $0.resource = .with { $0.externalID = "arn:aws:s3:::fp-shape"; $0.type = "s3_bucket" }
          change(&$0)
        }
      }
    }
    for (request, field) in [(finding { $0.status = .UNRECOGNIZED(9999) }, "finding.status: 9999"),
                             (finding { $0.createdAt = .with { $0.seconds = Int64.max } }, "finding.created_at: timestamps")] {
      await #expect(performing: {
        try await cluster.withClient(.dispatcher) { _ = try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(request) }
      }, throws: refused(field))
    }
    #expect(try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM finding") } == 0)
    // The same request with declared values goes through: the check refuses only what it should.
    let plain = finding { _ in }
    _ = try await cluster.withClient(.dispatcher) { try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(plain) }
    #expect(try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM finding") } == 1)
  }

  @Test("the services' token lives 30 days and is rotated in place: a refused token stops event delivery, `fixpoint token rotate-service` restores it without a restart; a service refuses to start with a token its rules refuse")
  func serviceTokenRotation() async throws {
    let cluster = try await Cluster()
    let files = KeyFiles(dataDirectory: cluster.dataDir)
    let signer = try await TokenAuthority(privateKeyPEM: try String(contentsOfFile: files.privateKey, encoding: .utf8))
    let issued = try #require(await signer.expiry(of: try String(contentsOfFile: files.serviceToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(abs(issued.timeIntervalSinceNow - 30 * 86_400) < 3600, "fixpoint init's service token expires \(issued)")

    // A token the notifier refuses (a foreign key's) in place of the dispatcher's: its events wait.
    let foreign = try await TokenAuthority(privateKeyPEM: try TokenAuthority.generateKeyPair().privateKeyPEM)
    try (try await foreign.issue(subject: "fixpoint-services", role: .service, ttl: 3600) + "\n").write(toFile: files.serviceToken, atomically: true, encoding: .utf8)
    try await Task.sleep(for: .seconds(3))
    let submit = Fixpoint_V1_SubmitFindingRequest.with { r in
      r.finding = .with {
        $0.source = "test"; $0.controlID = "S3.8"; $0.title = "rotation"
        $0.resource = .with { $0.externalID = "arn:aws:s3:::fp-rotation"; $0.type = "s3_bucket" }
      }
    }
    _ = try await cluster.withClient(.dispatcher) { try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(submit) }
    let pending = "SELECT COUNT(*) FROM outbox WHERE destination = 'notifier' AND delivered_at IS NULL"
    try await Task.sleep(for: .seconds(3))
    #expect(try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: pending) } == 1, "delivered with a refused token")

    let (status, output) = try await Cluster.run(Cluster.binDir + "/fixpoint", ["token", "rotate-service", "--data-dir", cluster.dataDir])
    #expect(status == 0, "\(output)")
    #expect(try await Cluster.eventually { try cluster.query(.dispatcher) { try Int.fetchOne($0, sql: pending) } == 0 }, "not delivered after rotation")
    #expect(try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM inbox") } == 1)
    // --if-due leaves a fresh token alone.
    let rotated = try String(contentsOfFile: files.serviceToken, encoding: .utf8)
    #expect(try await Cluster.run(Cluster.binDir + "/fixpoint", ["token", "rotate-service", "--if-due", "--data-dir", cluster.dataDir]).0 == 0)
    #expect(try String(contentsOfFile: files.serviceToken, encoding: .utf8) == rotated)

    // A ten-year token, as `fixpoint init` used to write: the service says what to do and exits.
    try (try await signer.issue(subject: "fixpoint-services", role: .service, ttl: 3650 * 86_400) + "\n").write(toFile: files.serviceToken, atomically: true, encoding: .utf8)
    let port = try await Self.closedPort()
    let (exit, said) = try await Cluster.run(Cluster.binDir + "/remediation-dispatcher", ["--data-dir", cluster.dataDir, "--grpc-port", "\(port)", "--metrics-port", "0"])
    #expect(exit != 0 && said.contains("auth.token.max.days") && said.contains("fixpoint token rotate-service"), "\(exit): \(said)")
  }

  /// A loopback port below 32768 that nothing listens on (bound, then released).
  static func closedPort() async throws -> Int {
    let (status, out, _) = try await runCommand([try TestPython.interpreter(), "-c", "import random, socket\nwhile True:\n    p = random.randrange(20000, 32000)\n    try:\n        socket.socket().bind(('127.0.0.1', p)); print(p); break\n    except OSError:\n        pass"])
    guard status == 0, let port = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ClusterError("no free port") }
    return port
  }
}
