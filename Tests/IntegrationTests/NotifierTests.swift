import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import TestSupport
import Testing

/// A Python helper process on a loopback port from 19500–19999 (clear of clusters, moto and the
/// fault proxy): the HTTP receiver (python/receiver.py) or the SMTP server (python/smtp_server.py).
final class Helper: @unchecked Sendable {
  let port: Int
  let dir: String
  let script: String
  let arguments: [String]
  private var process: Process?

  init(_ script: String, dir: String, arguments: [String] = [], port: Int? = nil) throws {
    self.port = try port ?? LoopbackPorts.block(width: 1, in: 19_500..<20_000)
    self.dir = dir
    self.script = script
    self.arguments = arguments
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  }

  func start() async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try TestPython.interpreter())
    process.arguments = [Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/\(self.script)").path, "--port", "\(self.port)"] + self.arguments
    let log = FileHandle(forWritingAtPath: self.dir + "/helper.log") ?? {
      _ = FileManager.default.createFile(atPath: self.dir + "/helper.log", contents: nil)
      return FileHandle(forWritingAtPath: self.dir + "/helper.log")!
    }()
    log.seekToEndOfFile()
    process.standardOutput = log
    process.standardError = log
    try process.run()
    self.process = process
    for _ in 0..<100 {
      if !LoopbackPorts.canBind(self.port) { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw ClusterError("\(self.script) did not listen on \(self.port): \((try? String(contentsOfFile: self.dir + "/helper.log", encoding: .utf8)) ?? "")")
  }

  /// Stops the helper dead (SIGSTOP) without closing anything: its peers' connections stay open
  /// and new ones are accepted by the kernel, but nothing is answered until `resume`.
  func freeze() {
    if let process = self.process, process.isRunning { kill(process.processIdentifier, SIGSTOP) }
  }

  func resume() {
    if let process = self.process, process.isRunning { kill(process.processIdentifier, SIGCONT) }
  }

  func stop() {
    guard let process = self.process, process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    self.process = nil
  }

  deinit { self.stop() }
}

/// What the HTTP receiver logged: one entry per POST it answered.
struct Received: @unchecked Sendable {
  var headers: [String: String]
  var body: String
  var verified: [Int]
  var errors: [String]
  var answered: Int
  var time: Double

  var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(self.body.utf8))) as? [String: Any] ?? [:] }
  var data: [String: Any] { self.json["data"] as? [String: Any] ?? [:] }

  static func read(_ path: String) -> [Received] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
      return Received(
        headers: o["headers"] as? [String: String] ?? [:], body: o["body"] as? String ?? "", verified: o["verified"] as? [Int] ?? [],
        errors: o["errors"] as? [String] ?? [], answered: o["answered"] as? Int ?? 0, time: o["time"] as? Double ?? 0)
    }
  }
}

/// The notifier as a real process: events in through DeliverEvents, notifications out to a real
/// HTTP receiver that verifies signatures with PyPI standardwebhooks, a Slack stand-in and aiosmtpd.
@Suite("notifier delivery", .serialized)
struct NotifierTests {
  static let fast = [
    "--notifier-egress-allow", "127.0.0.0/8", "--notifier-group-wait-seconds", "1", "--notifier-group-interval-seconds", "3",
    "--notifier-retry-base-seconds", "0.3", "--notifier-retry-cap-seconds", "2", "--notifier-retry-max-attempts", "1000",
    "--notifier-breaker-failures", "1000",
  ]

  /// A cluster with the notifier on `fast` timings and `extra` flags (which win: a flag given
  /// twice would reach the service as a list).
  static func notifier(_ extra: [String] = []) async throws -> Cluster {
    var flags: [(String, String)] = stride(from: 0, to: Self.fast.count, by: 2).map { (Self.fast[$0], Self.fast[$0 + 1]) }
    for i in stride(from: 0, to: extra.count, by: 2) {
      flags.removeAll { $0.0 == extra[i] }
      flags.append((extra[i], extra[i + 1]))
    }
    return try await Cluster(extraArguments: [.notifier: flags.flatMap { [$0.0, $0.1] }])
  }

  static func client<R: Sendable>(
    _ cluster: Cluster, token: String? = nil, _ body: @Sendable (Fixpoint_V1_NotifierService.Client<HTTP2ClientTransport.Posix>) async throws -> R
  ) async throws -> R {
    try await cluster.withClient(.notifier, token: token) { try await body(Fixpoint_V1_NotifierService.Client(wrapping: $0)) }
  }

  /// Hands `events` to the notifier as a relay would (service token), in one call.
  static func deliver(_ cluster: Cluster, _ events: [Fixpoint_V1_Event]) async throws {
    let token = try await cluster.token(role: .service, subject: "compliance")
    for start in stride(from: 0, to: events.count, by: 1000) {
      let batch = Array(events[start..<min(events.count, start + 1000)])
      _ = try await cluster.withClient(.notifier, token: token) { client in
        try await Fixpoint_V1_EventSink.Client(wrapping: client).deliverEvents(.with { $0.events = batch })
      }
    }
  }

  static func violation(_ n: Int, control: String = "S3.8", severity: Fixpoint_V1_Severity = .high, resolved: Bool = false) -> Fixpoint_V1_Event {
    .with { e in
      e.id = RandomID.make(prefix: "evt")
      e.type = resolved ? "compliance.resolved" : "compliance.violation"
      e.source = "compliance"
      e.time = .init(date: Date())
      e.subject = "res_\(n)"
      e.severity = severity
      e.complianceViolation = .with {
        $0.resultID = "rsl_\(n)"
        $0.controlID = control
        $0.assessmentID = "asm_1"
        $0.resource = .with { $0.resourceID = "res_\(n)"; $0.externalID = "arn:aws:s3:::bucket-\(n)"; $0.providerID = "prv_test"; $0.type = "s3_bucket" }
        $0.reason = resolved ? "" : "public access block off"
        $0.title = "S3 general purpose buckets should block public access"
        $0.resolved = resolved
      }
    }
  }

  static func webhookChannel(_ cluster: Cluster, name: String, url: String) async throws -> Fixpoint_V1_Channel {
    try await Self.client(cluster) { try await $0.createChannel(.with { $0.channel = .with { $0.name = name; $0.kind = .webhook; $0.target = url } }) }
  }

  static func subscribe(_ cluster: Cluster, _ channel: String, _ events: [String] = ["*"]) async throws {
    _ = try await Self.client(cluster) {
      try await $0.createSubscription(.with { $0.subscription = .with { $0.channelID = channel; $0.eventTypes = events } })
    }
  }

  static func deliveries(_ cluster: Cluster, channel: String) throws -> [Row] {
    try cluster.query(.notifier) { db in
      try Row.fetchAll(db, sql: "SELECT * FROM delivery WHERE channel_id = ? ORDER BY created_at", arguments: [channel])
    }
  }

  @Test("1,000 violations in one sweep: one signed message per channel after group_wait; a later one within group_interval: one more; a resolution: a resolved message; rotation: both secrets verify during the overlap, then only the new one; no secret on disk")
  func groupingAndSigning() async throws {
    let cluster = try await Self.notifier()
    let hook = try Helper("receiver.py", dir: cluster.dataDir + "/hook", arguments: ["--log", cluster.dataDir + "/hook/log.jsonl", "--secrets", cluster.dataDir + "/hook/secrets"])
    let slack = try Helper("receiver.py", dir: cluster.dataDir + "/slack", arguments: ["--log", cluster.dataDir + "/slack/log.jsonl"])
    try await hook.start()
    try await slack.start()
    let slackURL = "http://127.0.0.1:\(slack.port)/services/T000/B000/sekretslackpath"
    // The CLI prints the whsec_ secret once, in its JSON too.
    let env = ["FIXPOINT_NOTIFIER_ADDR": "127.0.0.1:\(cluster.grpcPort(.notifier))", "FIXPOINT_DATA_DIR": cluster.dataDir]
    let (status, out) = try await Cluster.run(
      Cluster.binDir + "/fixpoint", ["channels", "create", "webhook", "--name", "ops-hook", "--url", "http://127.0.0.1:\(hook.port)/in", "--output", "json"],
      environment: env)
    #expect(status == 0, "\(out)")
    let created = try #require((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first)
    let secret = try #require(created["signing_secret"] as? String)
    #expect(secret.hasPrefix("whsec_"))
    try secret.write(toFile: cluster.dataDir + "/hook/secrets", atomically: true, encoding: .utf8)
    let hookID = try #require(created["id"] as? String)
    let (slackStatus, slackOut) = try await Cluster.run(
      Cluster.binDir + "/fixpoint", ["channels", "create", "slack", "--name", "ops-slack", "--output", "json"],
      environment: env.merging(["FIXPOINT_SLACK_WEBHOOK_URL": slackURL]) { $1 })
    #expect(slackStatus == 0, "\(slackOut)")
    let slackID = try #require(((try JSONSerialization.jsonObject(with: Data(slackOut.utf8)) as? [[String: Any]])?.first)?["id"] as? String)
    let listed = try await Self.client(cluster) { try await $0.listChannels(.init()).channels }
    #expect(listed.count == 2 && listed.allSatisfy { $0.secret.isEmpty && $0.signingSecret.isEmpty })
    #expect(listed.first { $0.id == slackID }?.target == "127.0.0.1", "only the Slack host is shown")
    try await Self.subscribe(cluster, hookID)
    try await Self.subscribe(cluster, slackID, ["compliance.*"])

    // Plain resource changes raise nothing; 1,000 violations (and a repeat of each) raise 1,000 alerts.
    try await Self.deliver(cluster, [.with { $0.id = RandomID.make(prefix: "evt"); $0.type = "resource.changed"; $0.source = "inventory"; $0.resourceChanged = .init() }])
    try await Self.deliver(cluster, (0..<1000).map { Self.violation($0) })
    try await Self.deliver(cluster, (0..<1000).map { Self.violation($0) })
    let (alerts, counts) = try cluster.query(.notifier) { db in
      (try Int.fetchOne(db, sql: "SELECT count(*) FROM alert") ?? 0, try Int.fetchOne(db, sql: "SELECT sum(count) FROM alert") ?? 0)
    }
    #expect(alerts == 1000 && counts == 2000)
    #expect(try await Cluster.eventually(timeout: 15) { Received.read(cluster.dataDir + "/hook/log.jsonl").count >= 1 && Received.read(cluster.dataDir + "/slack/log.jsonl").count >= 1 })
    try await Task.sleep(for: .seconds(1.5))
    var hooks = Received.read(cluster.dataDir + "/hook/log.jsonl")
    let slacks = Received.read(cluster.dataDir + "/slack/log.jsonl")
    #expect(hooks.count == 1 && slacks.count == 1, "one message per channel: \(hooks.count) webhook, \(slacks.count) Slack")
    let first = try #require(hooks.first)
    #expect(first.verified == [0], "standardwebhooks verifies it: \(first.errors)")
    #expect(first.json["type"] as? String == "alert.firing")
    #expect(first.data["firing"] as? Int == 1000 && (first.data["alerts"] as? [Any])?.count == 20 && first.data["truncated"] as? Int == 980, "\(first.body.prefix(300))")
    #expect(first.headers["webhook-id"]?.hasPrefix("msg_") == true)
    let blocks = try #require((slacks.first?.json["blocks"] as? [[String: Any]]))
    #expect(blocks.count <= 50 && (blocks.first?["type"] as? String) == "header")
    #expect((slacks.first?.json["text"] as? String)?.contains("[FIRING:1000]") == true, "\(slacks.first?.body.prefix(300) ?? "")")

    // A later violation within group_interval: exactly one more message, once the interval has passed.
    try await Self.deliver(cluster, [Self.violation(1000, severity: .critical)])
    #expect(try await Cluster.eventually(timeout: 10) { Received.read(cluster.dataDir + "/hook/log.jsonl").count >= 2 })
    hooks = Received.read(cluster.dataDir + "/hook/log.jsonl")
    #expect(hooks[1].time - hooks[0].time >= 2.5, "group_interval (3 s) held: \(hooks[1].time - hooks[0].time)")
    #expect(hooks[1].data["firing"] as? Int == 1001 && (hooks[1].data["counts"] as? [String: Int])?["critical"] == 1)

    // A resolution clears its alert by itself and is told to the webhook (send_resolved), not to Slack.
    try await Self.deliver(cluster, [Self.violation(3, resolved: true)])
    #expect(try await Cluster.eventually(timeout: 10) { Received.read(cluster.dataDir + "/hook/log.jsonl").count >= 3 })
    hooks = Received.read(cluster.dataDir + "/hook/log.jsonl")
    #expect(hooks[2].data["resolved"] as? Int == 1 && hooks[2].verified == [0])
    let resolvedBy = try cluster.query(.notifier) { db in
      try String.fetchOne(db, sql: "SELECT resolved_by FROM alert WHERE resource = 'arn:aws:s3:::bucket-3'")
    }
    #expect(resolvedBy == "compliance")
    try await Task.sleep(for: .seconds(3.5))
    let slackLater = Received.read(cluster.dataDir + "/slack/log.jsonl")
    #expect(slackLater.count == 2, "Slack got the addition but not the resolution (not sent by default)")
    #expect((slackLater.last?.json["text"] as? String)?.contains("[FIRING:1001]") == true)

    // Rotation: during the overlap both secrets verify, after it only the new one.
    let rotated = try await Self.client(cluster) { try await $0.rotateChannelSecret(.with { $0.channelID = hookID; $0.overlapSeconds = 3 }) }
    #expect(rotated.signingSecret.hasPrefix("whsec_") && rotated.signingSecret != secret)
    try (secret + "\n" + rotated.signingSecret + "\n").write(toFile: cluster.dataDir + "/hook/secrets", atomically: true, encoding: .utf8)
    let during = try await Self.client(cluster) { try await $0.testChannel(.with { $0.channelID = hookID }) }
    #expect(during.status == .delivered)
    try await Task.sleep(for: .seconds(3.5))
    let after = try await Self.client(cluster) { try await $0.testChannel(.with { $0.channelID = hookID }) }
    #expect(after.status == .delivered)
    hooks = Received.read(cluster.dataDir + "/hook/log.jsonl")
    let tests = hooks.filter { $0.json["type"] as? String == "channel.test" }
    #expect(tests.map(\.verified) == [[0, 1], [1]], "\(tests.map(\.errors))")
    #expect(tests.allSatisfy { ($0.headers["webhook-signature"] ?? "").split(separator: " ").allSatisfy { $0.hasPrefix("v1,") } })

    // Every delivery row says delivered, with its attempt log.
    let rows = try Self.deliveries(cluster, channel: hookID)
    #expect(rows.count == 5 && rows.allSatisfy { $0["status"] as Int == 2 })

    // Secrets: in no file of the data directory (the SQLite files, their WAL, the logs).
    let secrets = [secret, rotated.signingSecret, String(secret.dropFirst(6)), "sekretslackpath"]
    let files = try FileManager.default.subpathsOfDirectory(atPath: cluster.dataDir).filter { !$0.hasPrefix("hook") && !$0.hasPrefix("slack") }
    for file in files {
      guard let data = FileManager.default.contents(atPath: cluster.dataDir + "/" + file) else { continue }
      for s in secrets { #expect(data.range(of: Data(s.utf8)) == nil, "\(file) holds a secret") }
    }
  }

  @Test("Slack's answers: 429 waits Retry-After, 500 is retried, 200 ok delivers; 404 no_service dead-letters at once; 410 disables the channel; redelivery keeps the webhook-id")
  func slackAnswers() async throws {
    let cluster = try await Self.notifier(["--notifier-group-wait-seconds", "0", "--notifier-group-by", "alert"])
    let dir = cluster.dataDir + "/slack"
    let slack = try Helper("receiver.py", dir: dir, arguments: ["--log", dir + "/log.jsonl", "--script", dir + "/script.json"])
    try #"[{"status": 429, "body": "rate_limited", "retry_after": 2}, {"status": 500, "body": "rollup_error"}, {"status": 200, "body": "ok"}, {"status": 404, "body": "no_service"}, {"status": 410, "body": "channel_is_archived"}]"#
      .write(toFile: dir + "/script.json", atomically: true, encoding: .utf8)
    try await slack.start()
    let channel = try await Self.client(cluster) {
      try await $0.createChannel(.with { $0.channel = .with { $0.name = "slack"; $0.kind = .slack; $0.secret = "http://127.0.0.1:\(slack.port)/services/x" } })
    }
    try await Self.subscribe(cluster, channel.id)
    try await Self.deliver(cluster, [Self.violation(1)])
    #expect(try await Cluster.eventually(timeout: 15) { try Self.deliveries(cluster, channel: channel.id).first.map { $0["status"] as Int == 2 } == true })
    let log = Received.read(dir + "/log.jsonl")
    #expect(log.map(\.answered) == [429, 500, 200])
    #expect(log.count == 3 && log[1].time - log[0].time >= 1.9, "Retry-After 2 s honoured")
    let deliveredID: String = try #require(try Self.deliveries(cluster, channel: channel.id).first)["id"]
    let shown = try await Self.client(cluster) { try await $0.getDelivery(.with { $0.deliveryID = deliveredID }) }
    #expect(shown.attemptLog.map(\.statusCode) == [429, 500, 200] && shown.attemptLog.last?.succeeded == true)

    // 404 no_service: dead at once, one attempt.
    try await Self.deliver(cluster, [Self.violation(2)])
    #expect(try await Cluster.eventually(timeout: 10) { try Self.deliveries(cluster, channel: channel.id).filter { $0["status"] as Int == 4 }.count == 1 })
    let dead = try await Self.client(cluster) { try await $0.listDeliveries(.with { $0.status = .dead }).deliveries }
    #expect(dead.count == 1 && dead[0].attempts == 1 && dead[0].lastError.contains("404"))
    // The dead letter raised an operator alert.
    #expect(try await Self.client(cluster) { try await $0.listAlerts(.with { $0.eventType = "notifier.delivery_dead" }).alerts.count } == 1)

    // Redelivery: the same webhook-id; the receiver's next answer is 410, which disables the channel.
    let again = try await Self.client(cluster) { try await $0.redeliverDelivery(.with { $0.deliveryID = dead[0].id }) }
    #expect(again.webhookID == dead[0].webhookID && again.status == .pending)
    #expect(try await Cluster.eventually(timeout: 10) {
      try cluster.query(.notifier) { db in try Int.fetchOne(db, sql: "SELECT status FROM channel WHERE id = ?", arguments: [channel.id]) } == 2
    })
    let disabled = try await Self.client(cluster) { try await $0.listChannels(.init()).channels.first }
    #expect(disabled?.status == .disabled && disabled?.statusReason.contains("410") == true)
  }

  @Test("the circuit breaker: after 3 failed attempts in a row the channel is left alone while the breaker is open, then one probe goes and a success closes it")
  func breaker() async throws {
    let cluster = try await Self.notifier([
      "--notifier-group-wait-seconds", "0", "--notifier-group-by", "alert", "--notifier-breaker-failures", "3", "--notifier-breaker-open-seconds", "4",
      "--notifier-retry-base-seconds", "0.1", "--notifier-retry-cap-seconds", "0.2",
    ])
    let dir = cluster.dataDir + "/hook"
    let hook = try Helper("receiver.py", dir: dir, arguments: ["--log", dir + "/log.jsonl", "--script", dir + "/script.json"])
    try #"[{"status": 503}, {"status": 503}, {"status": 503}, {"status": 503}]"#.write(toFile: dir + "/script.json", atomically: true, encoding: .utf8)
    try await hook.start()
    let channel = try await Self.webhookChannel(cluster, name: "flaky", url: "http://127.0.0.1:\(hook.port)/in")
    try await Self.subscribe(cluster, channel.id)
    // One delivery, so attempts are strictly one after another (two in flight could both fail before the breaker opens).
    try await Self.deliver(cluster, [Self.violation(1)])
    #expect(try await Cluster.eventually(timeout: 10) { Received.read(dir + "/log.jsonl").count >= 3 })
    #expect(try await Self.client(cluster) { try await $0.listChannels(.init()).channels.first?.breakerOpen } == true)
    // While it is open nothing is sent, although the delivery is due within 0.2 s: the receiver's own
    // clock shows each probe waited the open period (a wall-clock sleep here raced the probe under load).
    // Then one probe (the 4th answer is a 503 too: open again), then a probe that succeeds closes it.
    #expect(try await Cluster.eventually(timeout: 20) { try Self.deliveries(cluster, channel: channel.id).allSatisfy { $0["status"] as Int == 2 } })
    let log = Received.read(dir + "/log.jsonl")
    #expect(log.map(\.answered) == [503, 503, 503, 503, 200], "\(log.map(\.answered))")
    #expect(log[3].time - log[2].time >= 3.5 && log[4].time - log[3].time >= 3.5, "nothing sent while the breaker was open: each probe waited for the open period")
    #expect(try await Self.client(cluster) { try await $0.listChannels(.init()).channels.first?.breakerOpen } == false)
  }

  @Test("email over STARTTLS with AUTH to aiosmtpd: headers, text and HTML parts, dot-stuffing undone; 451 is retried, 554 dead-lettered")
  func email() async throws {
    let base = NSTemporaryDirectory() + "fp-smtp-\(UUID().uuidString.prefix(8))"
    let smtp = try Helper("smtp_server.py", dir: base + "/ok", arguments: ["--dir", base + "/ok", "--user", "mailer", "--password", "pa55-w0rd-secret"])
    try await smtp.start()
    let cluster = try await Self.notifier([
      "--notifier-smtp-ca-file", base + "/ok/cert.pem", "--notifier-group-wait-seconds", "0", "--notifier-group-by", "alert",
    ])
    let env = ["FIXPOINT_NOTIFIER_ADDR": "127.0.0.1:\(cluster.grpcPort(.notifier))", "FIXPOINT_DATA_DIR": cluster.dataDir, "FIXPOINT_SMTP_PASSWORD": "pa55-w0rd-secret"]
    let (status, out) = try await Cluster.run(
      Cluster.binDir + "/fixpoint",
      ["channels", "create", "email", "--name", "ops-mail", "--smtp-host", "127.0.0.1", "--smtp-port", "\(smtp.port)", "--from", "fixpoint@example.com",
       "--to", "ops@example.com,sec@example.com", "--username", "mailer", "--output", "json"], environment: env)
    #expect(status == 0, "\(out)")
    let id = try #require(((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first)?["id"] as? String)
    let test = try await Self.client(cluster) { try await $0.testChannel(.with { $0.channelID = id }) }
    #expect(test.status == .delivered, "\(test.lastError) \(test.attemptLog.map(\.response))")
    try await Self.subscribe(cluster, id)
    _ = try await Self.client(cluster) {
      try await $0.createAlert(.with { $0.title = "Bucket ünïcode opened"; $0.body = ".starts with a dot\n..two dots\nplain"; $0.severity = .critical; $0.subject = "arn:aws:s3:::b" })
    }
    #expect(try await Cluster.eventually(timeout: 15) { (try? FileManager.default.contentsOfDirectory(atPath: base + "/ok/new").count) == 2 })
    let envelopes = try String(contentsOfFile: base + "/ok/envelopes.jsonl", encoding: .utf8).split(separator: "\n")
      .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    #expect(envelopes.count == 2 && envelopes.allSatisfy { $0["tls"] as? Bool == true && $0["auth"] as? Bool == true })
    #expect(envelopes.last?["rcpt_tos"] as? [String] == ["ops@example.com", "sec@example.com"])
    // Parsed as a mail reader would, by Python's email package.
    let parse = """
      import email, json, sys
      from email import policy
      m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.default)
      print(json.dumps({"date": m["Date"], "from": m["From"], "id": m["Message-ID"], "subject": str(m["Subject"]), "type": m.get_content_type(),
        "parts": [[p.get_content_type(), p.get_content()] for p in m.iter_parts()]}))
      """
    let (parsed, json) = try await Cluster.run(try TestPython.interpreter(), ["-c", parse, base + "/ok/new/1.eml"])
    #expect(parsed == 0, "\(json)")
    let mail = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect(mail["type"] as? String == "multipart/alternative" && (mail["date"] as? String)?.isEmpty == false)
    #expect((mail["id"] as? String)?.hasPrefix("<msg_") == true && mail["from"] as? String == "fixpoint@example.com")
    #expect((mail["subject"] as? String)?.contains("[FIRING:1]") == true)
    let parts = try #require(mail["parts"] as? [[String]]).map { [$0[0], $0[1].replacingOccurrences(of: "\r\n", with: "\n")] }
    #expect(parts.map { $0[0] } == ["text/plain", "text/html"])
    #expect(parts[0][1].contains("Bucket ünïcode opened") && parts[0][1].contains("\n.starts with a dot") == false)
    #expect(parts[0][1].contains("\n..two dots\n") && parts[0][1].contains("  .starts with a dot"), "\(parts[0][1])")
    #expect(parts[1][1].contains("<b>CRITICAL</b>"))

    // 451 at DATA is retried; 554 goes to the dead letter.
    let busy = try Helper("smtp_server.py", dir: base + "/busy", arguments: ["--dir", base + "/busy", "--tls-mode", "none", "--fail", "451"])
    let refusing = try Helper("smtp_server.py", dir: base + "/no", arguments: ["--dir", base + "/no", "--tls-mode", "none", "--fail", "554"])
    try await busy.start()
    try await refusing.start()
    for (name, port) in [("busy", busy.port), ("refusing", refusing.port)] {
      let channel = try await Self.client(cluster) {
        try await $0.createChannel(.with {
          $0.channel = .with {
            $0.name = name; $0.kind = .email; $0.emailRecipients = ["ops@example.com"]
            $0.email = .with { $0.smtpHost = "127.0.0.1"; $0.smtpPort = Int32(port); $0.from = "fixpoint@example.com"; $0.security = .none }
          }
        })
      }
      try await Self.subscribe(cluster, channel.id, ["compliance.*"])
    }
    try await Self.deliver(cluster, [Self.violation(7)])
    let channels = try await Self.client(cluster) { try await $0.listChannels(.init()).channels }
    let busyID = try #require(channels.first { $0.name == "busy" }?.id)
    let refusingID = try #require(channels.first { $0.name == "refusing" }?.id)
    #expect(try await Cluster.eventually(timeout: 10) {
      try Self.deliveries(cluster, channel: refusingID).first.map { $0["status"] as Int == 4 } == true
        && (try Self.deliveries(cluster, channel: busyID).first.map { ($0["attempts"] as Int) >= 2 && $0["status"] as Int == 3 } == true)
    })
    let refused = try await Self.client(cluster) { try await $0.listDeliveries(.with { $0.channelID = refusingID }).deliveries.first }
    #expect(refused?.attempts == 1 && refused?.attemptLog.first?.statusCode == 554)
    let password = "pa55-w0rd-secret"
    for file in try FileManager.default.subpathsOfDirectory(atPath: cluster.dataDir) {
      guard let data = FileManager.default.contents(atPath: cluster.dataDir + "/" + file) else { continue }
      #expect(data.range(of: Data(password.utf8)) == nil && data.range(of: Data(Data(password.utf8).base64EncodedString().utf8)) == nil, "\(file) holds the password")
    }
  }

  @Test("outbound safety: metadata, private and loopback destinations, and names resolving to them, are refused unless allow-listed; nothing is stored")
  func egress() async throws {
    let cluster = try await Cluster()
    for url in ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook", "https://localhost:8443/hook", "https://[::ffff:127.0.0.1]/x",
                "https://0x7f.1/x", "http://8.8.8.8/plain-http", "https://100.64.0.1/cgnat", "https://[fd00::1]/ula"] {
      do {
        _ = try await Self.webhookChannel(cluster, name: "bad-\(UUID().uuidString.prefix(6))", url: url)
        Issue.record("\(url) was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message.hasPrefix("channel.target"), "\(url): \(error)")
      }
    }
    do {
      _ = try await Self.client(cluster) {
        try await $0.createChannel(.with {
          $0.channel = .with {
            $0.name = "mail"; $0.kind = .email; $0.emailRecipients = ["a@example.com"]
            $0.email = .with { $0.smtpHost = "127.0.0.1"; $0.from = "f@example.com" }
          }
        })
      }
      Issue.record("an SMTP server on loopback was accepted")
    } catch let error as RPCError {
      #expect(error.code == .invalidArgument && error.message.contains("smtp_host"))
    }
    let stored = try cluster.query(.notifier) { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM channel") }
    #expect(stored == 0)
  }

  @Test("the receiver down for 10 s, then back: every delivery arrives; kill -9 of the notifier mid-queue: after restart every notification arrives, repeats only with the same webhook-id")
  func outageAndCrash() async throws {
    let cluster = try await Self.notifier(["--notifier-group-wait-seconds", "0", "--notifier-group-by", "alert"])
    let dir = cluster.dataDir + "/hook"
    let hook = try Helper("receiver.py", dir: dir, arguments: ["--log", dir + "/log.jsonl", "--script", dir + "/script.json"])
    try "[]".write(toFile: dir + "/script.json", atomically: true, encoding: .utf8)
    let channel = try await Self.webhookChannel(cluster, name: "hook", url: "http://127.0.0.1:\(hook.port)/in")
    try await Self.subscribe(cluster, channel.id)
    // Down: the receiver is not running.
    try await Self.deliver(cluster, (0..<50).map { Self.violation($0) })
    try await Task.sleep(for: .seconds(10))
    let waiting = try Self.deliveries(cluster, channel: channel.id)
    #expect(waiting.count == 50 && waiting.allSatisfy { $0["status"] as Int == 3 }, "all retrying while the receiver is down")
    try await hook.start()
    #expect(try await Cluster.eventually(timeout: 20) { try Self.deliveries(cluster, channel: channel.id).allSatisfy { $0["status"] as Int == 2 } })
    #expect(Set(Received.read(dir + "/log.jsonl").compactMap { $0.headers["webhook-id"] }).count == 50)

    // A slow receiver (0.5 s an answer: 200 at 32 in flight take about 3 s, so the kill lands
    // mid-queue even on a loaded machine), 200 more, kill -9 while they are being sent.
    let slow = (0..<400).map { _ in #"{"status": 200, "body": "ok", "delay": 0.5}"# }.joined(separator: ",")
    try "[\(String(repeating: #"{"status": 200, "body": "ok"},"#, count: 50).dropLast())\(",")\(slow)]".write(toFile: dir + "/script.json", atomically: true, encoding: .utf8)
    try await Self.deliver(cluster, (100..<300).map { Self.violation($0) })
    #expect(try await Cluster.eventually(timeout: 20) { Received.read(dir + "/log.jsonl").count >= 80 })
    _ = await cluster.stop(.notifier, signal: SIGKILL)
    let before = try Self.deliveries(cluster, channel: channel.id).filter { $0["status"] as Int == 2 }.count
    #expect(before < 250, "killed mid-queue: \(before) of 250 delivered")
    try cluster.start(.notifier)
    try await cluster.waitUntilServing(.notifier)
    #expect(try await Cluster.eventually(timeout: 60) {
      try Self.deliveries(cluster, channel: channel.id).count == 250 && Self.deliveries(cluster, channel: channel.id).allSatisfy { $0["status"] as Int == 2 }
    })
    let received = Received.read(dir + "/log.jsonl")
    var bodies: [String: Set<String>] = [:]
    for r in received { bodies[r.headers["webhook-id"] ?? "", default: []].insert(r.body) }
    #expect(bodies.count == 250, "every notification arrived, once per webhook-id: \(bodies.count)")
    #expect(bodies.values.allSatisfy { $0.count == 1 }, "a repeat carries the same id and the same body")
    let ids = try cluster.query(.notifier) { db in try String.fetchAll(db, sql: "SELECT webhook_id FROM delivery") }
    #expect(Set(ids) == Set(bodies.keys), "the deliveries and what arrived differ")
    #expect(try cluster.query(.notifier) { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM delivery WHERE status = 4") } == 0, "nothing dead-lettered")
  }

  @Test("end to end: a remediation that fails (AccessDenied injected by the fault proxy) raises an alert and a signed webhook delivery")
  func remediationFailure() async throws {
    let proxy = try FaultProxy()
    let f = try await AWSFixture.make(
      endpoint: { moto in try await proxy.start(upstream: moto.endpoint) },
      dispatcherArguments: [
        "--dispatcher-approval-required", "false",
        "--dispatcher-change-windows", #"[{"cron": "* * * * *", "duration_seconds": 3600, "time_zone": "UTC"}]"#,
      ],
      notifierArguments: ["--notifier-egress-allow", "127.0.0.0/8", "--notifier-group-wait-seconds", "0"])
    let dir = f.cluster.dataDir + "/hook"
    let hook = try Helper("receiver.py", dir: dir, arguments: ["--log", dir + "/log.jsonl", "--secrets", dir + "/secrets"])
    try await hook.start()
    let channel = try await Self.webhookChannel(f.cluster, name: "ops", url: "http://127.0.0.1:\(hook.port)/in")
    try channel.signingSecret.write(toFile: dir + "/secrets", atomically: true, encoding: .utf8)
    try await Self.subscribe(f.cluster, channel.id, ["remediation.*"])
    _ = try await proxy.deny([#"^s3 PUT [^?]*\?(.*&)?publicAccessBlock(=|&|$)"#])
    let bucket = try await f.resource("s3_bucket", "fp-bad-bucket")
    let action = try await f.suggest(bucket, control: "S3.8")
    let executed = try await f.dispatcher { try await $0.executeAction(.with { $0.actionIds = [action.id] }).actions[0] }
    // It fails, and the dispatcher rolls the partial change back by itself.
    #expect([.failed, .rolledBack].contains(executed.state), "\(executed.state) \(executed.failureReason)")
    // The action's other steps (the automatic rollback) are told too, in their own groups: pick the failure's message.
    @Sendable func failure() -> Received? {
      Received.read(dir + "/log.jsonl").first { (($0.data["alerts"] as? [[String: Any]])?.first?["type"] as? String) == "remediation.failed" }
    }
    #expect(try await Cluster.eventually(timeout: 20) { failure() != nil }, "\(Received.read(dir + "/log.jsonl").map(\.body))")
    let received = try #require(failure())
    #expect(received.verified == [0], "\(received.errors)")
    let entry = try #require((received.data["alerts"] as? [[String: Any]])?.first)
    #expect((entry["title"] as? String)?.contains(action.id) == true && received.data["firing"] as? Int == 1)
    #expect(entry["severity"] as? String == "high" && (entry["hint"] as? String) == "fixpoint remediation show \(action.id)")
    let alert = try f.cluster.query(.notifier) { db in
      try Row.fetchOne(db, sql: "SELECT event_type, status, source FROM alert WHERE event_type = 'remediation.failed'")
    }
    #expect(alert?["source"] as String? == "remediation-dispatcher")
  }
}
