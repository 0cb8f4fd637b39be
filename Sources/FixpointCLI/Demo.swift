import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint demo`: the whole loop on a local AWS emulator, step by step, with the commands an
/// operator would type. Everything it does to Fixpoint goes through this same CLI (run as a child
/// process, so what it prints is what the command prints); everything it does to the emulator
/// goes through boto3 (`scripts/lib/demo_estate.py`), as someone working behind Fixpoint's back.
struct Demo: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the whole loop on a local AWS emulator: find, fix, approve, verify, roll back, audit.",
    discussion: """
      Starts moto_server and seeds a small misconfigured estate in two regions, starts the five \
      services (as `fixpoint up` does) with a local webhook receiver and SMTP server as channels, \
      connects the account, syncs, baselines and assesses it, makes a change behind Fixpoint's \
      back and finds the drift, plans the fixes, runs tiers 1–2 at once, has a second person \
      approve the tier-3 and env=prod ones (the requester cannot), leaves the one tagged \
      auto_remediate=false waiting, assesses again, rolls one fix back, verifies the audit chain \
      and shows the notifications that arrived. Then it stops everything (--exit) or leaves the \
      suite and the emulator running until Ctrl-C, with the commands to explore them. \
      scripts/demo builds what it needs and makes the Python environment (moto, boto3, aiosmtpd) first.
      """)

  @Option(help: "Where the demo keeps its data and logs; made afresh each run (default ./fixpoint-demo).")
  var dataDir: String = "./fixpoint-demo"
  @Option(help: "Added to every default port (7101–7105 gRPC, 9101–9105 metrics).") var portOffset: Int = 400
  @Option(help: "The Python with moto, boto3, standardwebhooks and aiosmtpd (default: FIXPOINT_TEST_PYTHON, or the project's .build/test-venv).")
  var python: String?
  @Option(help: "An emulator already running (http://127.0.0.1:PORT) to use instead of starting one; it is seeded and left running.")
  var endpoint: String?
  @Flag(help: "Stop everything at the end instead of leaving it running.") var exit = false

  func validate() throws {
    guard (0...(65_535 - 9_105)).contains(self.portOffset) else { throw ValidationError("--port-offset must be between 0 and 56430") }
    if let endpoint, !(endpoint.hasPrefix("http://127.0.0.1:") || endpoint.hasPrefix("http://localhost:")) {
      throw ValidationError("--endpoint must be a loopback emulator, http://127.0.0.1:PORT")
    }
  }

  func run() async throws {
    let run = try DemoRun(options: self)
    do {
      try await run.go()
    } catch {
      say("\ndemo: stopped: \(error)")
      say("demo: the services' and the emulator's logs are in \(run.dir)/logs")
      run.children.stopAll()
      throw ExitCode.failure
    }
  }
}

/// One run of the demo: its directory, its children and what it has learnt along the way.
final class DemoRun: @unchecked Sendable {
  let dir: String
  let options: Demo
  let python: String
  let repo: URL
  let fixpointBinary: String
  let children = Supervisor()
  let started = Date()
  var endpoint = ""
  var ports: [Int] = []
  /// What the first assessment found, for the summary.
  var firstFailures = 0
  /// Ids worth exploring afterwards: the last assessment, the action rolled back.
  var lastAssessment = "asm_…"
  var rolledBack = "act_…"

  init(options: Demo) throws {
    self.options = options
    self.dir = URL(fileURLWithPath: options.dataDir).standardizedFileURL.path
    self.fixpointBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    // The repository the binary was built in (.build/…/debug/fixpoint): the demo's helpers are there.
    var repo = URL(fileURLWithPath: self.fixpointBinary).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: repo.appendingPathComponent("scripts/lib/demo_estate.py").path) {
      guard repo.path != "/" else { throw CLIError("fixpoint demo runs from a build inside the repository (scripts/lib/demo_estate.py not found)") }
      repo = repo.deletingLastPathComponent()
    }
    self.repo = repo
    let venv = self.repo.appendingPathComponent(".build/test-venv/bin/python3").path
    self.python = options.python ?? ProcessInfo.processInfo.environment["FIXPOINT_TEST_PYTHON"] ?? venv
    guard FileManager.default.isExecutableFile(atPath: self.python) else {
      throw CLIError("no Python environment at \(self.python): run scripts/demo, which makes it (moto, boto3, aiosmtpd)")
    }
    self.children.quietExits = true
  }

  // MARK: The steps

  func go() async throws {
    say("fixpoint demo: the whole loop on a local AWS emulator; each step says what and why, then what happened.")
    try self.prepareDirectory()
    try await self.emulator()
    let estate = try self.seed()
    try await self.suite()
    try await self.discover()
    try await self.drift(estate)
    let actions = try await self.remediate()
    try await self.afterwards(estate, actions: actions)
    try self.summary()
    if self.options.exit {
      say("\n▸ Stopping the services, the emulator and the receivers (--exit).")
      let stopping = Date()
      self.children.stopAll()
      say("    stopped in \(String(format: "%.1f", Date().timeIntervalSince(stopping))) s")
      return
    }
    self.explore()
    await self.children.waitForSignalOrExit()
  }

  /// A fresh directory: an earlier demo's is replaced, anything else is refused.
  func prepareDirectory() throws {
    let fm = FileManager.default
    let marker = self.dir + "/.fixpoint-demo"
    if fm.fileExists(atPath: self.dir) {
      let contents = (try? fm.contentsOfDirectory(atPath: self.dir)) ?? []
      guard contents.isEmpty || fm.fileExists(atPath: marker) else {
        throw CLIError("\(self.dir) exists and is not a demo directory; pass another --data-dir")
      }
      try fm.removeItem(atPath: self.dir)
    }
    try fm.createDirectory(atPath: self.dir + "/logs", withIntermediateDirectories: true)
    fm.createFile(atPath: marker, contents: Data("made by fixpoint demo; replaced by the next run\n".utf8))
  }

  func emulator() async throws {
    self.ports = try self.helper(["ports", "3"]).split(separator: "\n").compactMap { Int($0) }
    guard self.ports.count == 3 else { throw CLIError("no free loopback ports") }
    if let given = self.options.endpoint {
      self.endpoint = given
      self.step("Emulator", "use the AWS emulator at \(given) (--endpoint)")
    } else {
      self.endpoint = "http://127.0.0.1:\(self.ports[0])"
      self.step("Emulator", "start moto_server, a local AWS API, on \(self.endpoint): nothing leaves this machine")
      setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false", 1)  // a faster start; the estate names its own image
      try self.children.start(name: "moto", executable: URL(fileURLWithPath: self.python),
                              arguments: ["-m", "moto.server", "-H", "127.0.0.1", "-p", "\(self.ports[0])"], log: self.dir + "/logs/moto.log", killOnStop: true)
    }
    let deadline = Date().addingTimeInterval(30)
    while (try? self.helper(["ping", self.endpoint])) == nil {
      guard Date() < deadline else { throw CLIError("the emulator at \(self.endpoint) does not answer") }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  func seed() throws -> [String: Any] {
    self.step("Estate", "seed a small misconfigured estate in us-east-1 and eu-west-1, with a compliant twin of each resource")
    let estate = try JSONSerialization.jsonObject(with: Data(try self.helper(["seed", self.endpoint]).utf8)) as? [String: Any] ?? [:]
    for (region, made) in estate.sorted(by: { $0.key < $1.key }) {
      let kinds = (made as? [String: [String: Any]] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key.replacingOccurrences(of: "_", with: " "))" }
      say("    \(region): \(kinds.joined(separator: ", "))")
    }
    say("    misconfigured: a public bucket, unencrypted ones (one tagged env=prod, one auto_remediate=false), SSH and RDP open")
    say("    to the world beside HTTPS, IMDSv1 allowed, a public database without backups, a KMS key without rotation")
    return estate
  }

  func suite() async throws {
    self.step("Suite", "start the five services (as `fixpoint up`), a webhook receiver and an SMTP server")
    _ = try await KeyFiles.initialize(dataDirectory: self.dir)
    let tests = self.repo.appendingPathComponent("Tests/IntegrationTests/python")
    try self.children.start(name: "webhook", executable: URL(fileURLWithPath: self.python),
                            arguments: [tests.appendingPathComponent("receiver.py").path, "--port", "\(self.ports[1])",
                                        "--log", self.dir + "/webhooks.jsonl", "--secrets", self.dir + "/webhook.secrets"],
                            log: self.dir + "/logs/webhook.log", killOnStop: true)
    try self.children.start(name: "smtp", executable: URL(fileURLWithPath: self.python),
                            arguments: [tests.appendingPathComponent("smtp_server.py").path, "--port", "\(self.ports[2])",
                                        "--dir", self.dir + "/mail", "--tls-mode", "none"],
                            log: self.dir + "/logs/smtp.log", killOnStop: true)
    let binDir = URL(fileURLWithPath: self.fixpointBinary).deletingLastPathComponent()
    let offset = self.options.portOffset
    let extra: [ServiceName: [String]] = [
      .compliance: ["--compliance-assess-after-sync", "false"],
      // The operator plans (suggest); tiers 1–2 need no approval; tier 3 may run at any time.
      .dispatcher: ["--dispatcher-auto-suggest", "false", "--dispatcher-approval-required", "false",
                    "--dispatcher-change-windows", #"[{"cron": "* * * * *", "duration_seconds": 86400, "time_zone": "UTC"}]"#,
                    "--dispatcher-s3-encryption-kms-key", "alias/demo-s3"],
      .notifier: ["--notifier-egress-allow", "127.0.0.1/32"],
    ]
    for service in ServiceName.allCases {
      var args = ["--data-dir", self.dir, "--grpc-port", "\(service.defaultGRPCPort + offset)",
                  "--metrics-port", "\(service.defaultMetricsPort + offset)", "--relay-interval-ms", "100"]
      for peer in ServiceName.allCases where peer != service {
        args += ["--\(peer.key)-addr", "127.0.0.1:\(peer.defaultGRPCPort + offset)"]
      }
      try self.children.start(name: service.key, executable: binDir.appendingPathComponent(service.executable),
                              arguments: args + (extra[service] ?? []), log: self.dir + "/logs/\(service.rawValue).log")
    }
    try SuiteAddresses.write(
      Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ($0.key, "127.0.0.1:\($0.defaultGRPCPort + offset)") }), dataDirectory: self.dir)
    guard await Up.waitUntilServing(portOffset: offset, timeout: 60) else {
      throw CLIError("the services are not all serving after 60 s (ports \(7101 + offset)–\(7105 + offset) taken? see \(self.dir)/logs)")
    }
    say("    five services serving on 127.0.0.1:\(7101 + offset)–\(7105 + offset); logs in \(self.dir)/logs")
    // Two people besides the admin: alice plans and runs fixes, bob approves.
    try self.fixpoint(["token", "issue", "--subject", "alice", "--role", "operator", "--ttl", "12h"], show: false)
      .write(toFile: self.dir + "/alice.token", atomically: true, encoding: .utf8)
    try self.fixpoint(["token", "issue", "--subject", "bob", "--role", "approver", "--ttl", "12h"], show: false)
      .write(toFile: self.dir + "/bob.token", atomically: true, encoding: .utf8)
    // alice holds the approver role too: separation of duties, not her role, stops her below.
    try self.fixpoint(["token", "issue", "--subject", "alice", "--role", "approver", "--ttl", "12h"], show: false)
      .write(toFile: self.dir + "/alice-approver.token", atomically: true, encoding: .utf8)
    let webhook = try self.json(["channels", "create", "webhook", "--name", "demo-webhook", "--url", "http://127.0.0.1:\(self.ports[1])/fixpoint"])
    let secret = (webhook.first?["signing_secret"] as? String) ?? ""
    try (secret + "\n").write(toFile: self.dir + "/webhook.secrets", atomically: true, encoding: .utf8)
    let email = try self.json(["channels", "create", "email", "--name", "demo-email", "--smtp-host", "127.0.0.1", "--smtp-port", "\(self.ports[2])",
                               "--plain", "--from", "fixpoint@demo.invalid", "--to", "secops@demo.invalid"])
    for channel in [webhook, email] {
      guard let id = channel.first?["id"] as? String else { throw CLIError("a channel was not created: \(channel)") }
      _ = try self.fixpoint(["subscriptions", "create", "--events", "remediation.*,drift.*", "--min-severity", "low", "--channel", id], show: false)
    }
    say("    channels: a signed webhook to 127.0.0.1:\(self.ports[1]) and email over SMTP to 127.0.0.1:\(self.ports[2]), for remediation and drift events")
  }

  func discover() async throws {
    self.step("Discover", "connect the account, read every resource, record today's configuration as the baseline, assess it")
    _ = try self.fixpoint(["provider", "connect", "aws", "--name", "demo", "--regions", "us-east-1,eu-west-1", "--endpoint", self.endpoint],
                          environment: ["AWS_ACCESS_KEY_ID": "AKIAFIXPOINTDEMO0001", "AWS_SECRET_ACCESS_KEY": "demo-secret"])
    _ = try self.fixpoint(["provider", "sync", "demo", "--types", Self.types])
    let baselines = try self.fixpoint(["baseline", "capture", "--provider", "demo", "--comment", "the estate as found by the demo"], quietTable: true)
    say("    \(max(0, baselines.split(separator: "\n").count - 1)) baselines recorded")
    let output = try self.fixpoint(["compliance", "assess", "--framework", "fsbp", "--controls", Self.controls, "--wait"], ok: [0, 3])
    self.firstFailures = Self.failedCount(output)
  }

  /// What the demo reads: the kinds of resource it seeded (moto also holds a thousand managed IAM
  /// policies and a default network per region, which would only slow the demo down).
  static let types = "s3_bucket,security_group,ec2_instance,rds_instance,kms_key"
  /// The FSBP controls the demo assesses: one per kind of misconfiguration it seeded.
  static let controls = "S3.8,S3.17,EC2.53,EC2.8,RDS.2,RDS.11,KMS.4"

  static func failedCount(_ assessment: String) -> Int {
    // "assessment asm_…: 20 passed, 11 failed, 0 waived, …"
    guard let line = assessment.split(separator: "\n").first(where: { $0.hasPrefix("assessment ") }),
          let range = line.range(of: #"(\d+) failed"#, options: .regularExpression) else { return 0 }
    return Int(line[range].split(separator: " ")[0]) ?? 0
  }

  /// Opens a port on a compliant group behind Fixpoint's back and has drift find it.
  func drift(_ estate: [String: Any]) async throws {
    let group = ((estate["us-east-1"] as? [String: Any])?["security_groups"] as? [String: String])?["compliant"] ?? ""
    self.step("Drift", "open SSH to the world on \(group), a compliant group, with the emulator's API (behind Fixpoint's back), then scan it")
    try self.helper(["open-port", self.endpoint, "us-east-1", group, "22"])
    _ = try self.fixpoint(["drift", "scan", "--resource", group, "--wait"], ok: [0, 3])
    _ = try self.fixpoint(["drifts", "list", "--limit", "5"])
    // The drift reaches the dispatcher as a finding (drift.detected); wait for it.
    let deadline = Date().addingTimeInterval(20)
    while try self.json(["findings", "list", "--limit", "0"]).contains(where: { ($0["source"] as? String) == "drift" }) == false {
      guard Date() < deadline else { throw CLIError("the drift did not reach the dispatcher as a finding") }
      try await Task.sleep(for: .milliseconds(250))
    }
  }

  /// Plans every open finding as alice, runs tiers 1–2, has bob approve what needs approving.
  func remediate() async throws -> [[String: Any]] {
    self.step("Plan", "alice (operator) plans a fix for every open finding: each with its handler, tier and exact change, nothing applied yet")
    _ = try self.fixpoint(["remediation", "suggest", "--all-open", "--token-file", self.dir + "/alice.token"])
    let planned = try self.actions()
    for action in planned {
      let diff = (action["planned_diff"] as? [[String: Any]] ?? []).filter { ($0["unchanged"] as? Bool) != true }
        .map { "\($0["path"] ?? ""): \(Self.compact($0["before"])) → \(Self.compact($0["after"]))" }
      say("    \(action["id"] ?? "") \(Self.resourceName(action)): \(diff.prefix(3).joined(separator: "; "))\(diff.count > 3 ? "; …" : "")")
    }

    self.step("Run tiers 1–2", "policy lets tier 1–2 fixes run without approval: snapshot, change, verify each")
    _ = try self.fixpoint(["remediation", "execute", "--all-approved", "--token-file", self.dir + "/alice.token"], ok: [0, 3])

    let waiting = try self.actions().filter { ($0["state"] as? String) == "ACTION_STATE_PENDING_APPROVAL" }
    let optedOut = waiting.filter { Self.resourceName($0).contains("legacy-exports") }
    let toApprove = waiting.filter { !Self.resourceName($0).contains("legacy-exports") }
    self.step("Approve", "tier 3 and env=prod need a second person: alice may not approve her own; bob (approver) does; the bucket tagged auto_remediate=false stays waiting for a human")
    if let first = toApprove.first, let id = first["id"] as? String {
      let (status, said) = try self.fixpointStatus(["remediation", "approve", id, "--comment", "my own change", "--token-file", self.dir + "/alice-approver.token"])
      say("  $ fixpoint remediation approve \(id)   (as alice, who requested it, with her approver token)")
      say("    \(status == 0 ? "ACCEPTED: separation of duties did not hold" : said.trimmingCharacters(in: .whitespacesAndNewlines))")
      if status == 0 { throw CLIError("alice approved her own action \(id)") }
    }
    for action in toApprove {
      guard let id = action["id"] as? String else { continue }
      _ = try self.fixpoint(["remediation", "approve", id, "--comment", "reviewed the diff with alice", "--token-file", self.dir + "/bob.token"], quietTable: true)
      say("    bob approved it: \(action["handler"] ?? "") on \(Self.resourceName(action))")
    }
    for action in optedOut { say("    left waiting: \(action["id"] ?? "") (\(Self.resourceName(action)) is tagged auto_remediate=false)") }
    _ = try self.fixpoint(["remediation", "execute", "--all-approved", "--token-file", self.dir + "/alice.token"], ok: [0, 3])
    _ = try self.fixpoint(["remediation", "list", "--limit", "0"])
    return try self.actions()
  }

  func afterwards(_ estate: [String: Any], actions: [[String: Any]]) async throws {
    self.step("Assess again", "the same controls on what the emulator holds now")
    _ = try self.fixpoint(["provider", "sync", "demo", "--types", Self.types], quietTable: true)
    let again = try self.fixpoint(["compliance", "assess", "--framework", "fsbp", "--controls", Self.controls, "--wait"], ok: [0, 3])
    if let id = again.range(of: #"asm_[0-9a-f]+"#, options: .regularExpression) { self.lastAssessment = String(again[id]) }

    let group = ((estate["us-east-1"] as? [String: Any])?["security_groups"] as? [String: String])?["open_admin"] ?? ""
    guard let fix = actions.first(where: { ($0["handler"] as? String) == "BlockPublicAdminPorts" && Self.resourceName($0).contains(group) }),
          let id = fix["id"] as? String else { throw CLIError("no completed BlockPublicAdminPorts action on \(group) to roll back") }
    self.step("Roll back", "undo \(id) (SSH and RDP closed on \(group)) from its snapshot, and read the group back from the emulator")
    self.rolledBack = id
    say("    before: \(try self.openPorts(group))")
    _ = try self.fixpoint(["remediation", "rollback", id, "--comment", "the demo shows a rollback"], quietTable: true)
    say("    after:  \(try self.openPorts(group))   (the emulator's own answer: the rules are back)")

    self.step("Audit", "check the hash chain over every state change of every action")
    _ = try self.fixpoint(["audit", "verify"])

    self.step("Notifications", "what reached the webhook receiver (signatures checked with the standardwebhooks library) and the mailbox")
    let deadline = Date().addingTimeInterval(30)
    var hooks: [[String: Any]] = []
    var mails = 0
    repeat {
      try await Task.sleep(for: .milliseconds(500))
      hooks = ((try? String(contentsOfFile: self.dir + "/webhooks.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
        .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
      mails = ((try? FileManager.default.contentsOfDirectory(atPath: self.dir + "/mail/new")) ?? []).count
    } while (hooks.isEmpty || mails == 0) && Date() < deadline
    let verified = hooks.filter { !(($0["verified"] as? [Any]) ?? []).isEmpty }.count
    say("    webhook: \(hooks.count) deliveries, \(verified) with a valid signature; email: \(mails) messages in \(self.dir)/mail/new")
    _ = try self.fixpoint(["deliveries", "list", "--limit", "6"])
  }

  func summary() throws {
    let actions = try self.actions()
    func count(_ state: String) -> Int { actions.filter { ($0["state"] as? String) == "ACTION_STATE_\(state)" }.count }
    let seconds = Int(Date().timeIntervalSince(self.started))
    say("""

      ━━ Summary ━━
      found:            \(self.firstFailures) failing checks in the first assessment, and one drift
      fixed:            \(count("COMPLETED")) actions completed (snapshotted, applied, verified, audited)
      left for a human: \(count("PENDING_APPROVAL")) waiting for approval (tagged auto_remediate=false)
      rolled back:      \(count("ROLLED_BACK"))
      failed:           \(count("FAILED"))
      time:             \(seconds / 60) min \(seconds % 60) s
      """)
  }

  func explore() {
    let d = "--data-dir \(self.dir)"
    say("""

      The suite and the emulator keep running. To explore (another terminal):
        alias fixpoint=\(self.fixpointBinary)
        fixpoint resource list \(d)
        fixpoint compliance results \(self.lastAssessment) \(d)
        fixpoint remediation list \(d)
        fixpoint audit show \(self.rolledBack) \(d)
        fixpoint alerts list \(d)
        \(self.python) \(self.repo.path)/scripts/lib/demo_estate.py read \(self.endpoint)   # the emulator, through boto3
      The logs are in \(self.dir)/logs. Ctrl-C here stops everything.
      """)
  }

  // MARK: Helpers

  func step(_ title: String, _ why: String) {
    say("\n▸ \(title): \(why)")
  }

  /// Runs `fixpoint ARGS --data-dir DIR`, shows the command and (indented) its output, returns the output.
  @discardableResult
  func fixpoint(_ arguments: [String], environment: [String: String] = [:], ok: Set<Int32> = [0], show: Bool = true, quietTable: Bool = false) throws -> String {
    let (status, output) = try self.fixpointStatus(arguments, environment: environment)
    if show {
      let visible = arguments.filter { !$0.hasSuffix(".token") && $0 != "--token-file" }
      say("  $ fixpoint \(visible.map { $0.contains(" ") || $0.contains("*") ? "'\($0)'" : $0 }.joined(separator: " "))")
      if !quietTable {
        // A progress line redraws itself with \r: show where it ended.
        for line in output.split(separator: "\n", omittingEmptySubsequences: false).dropLast(output.hasSuffix("\n") ? 1 : 0) {
          let shown = line.split(separator: "\r").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) ?? ""
          say("    \(shown.trimmingCharacters(in: .whitespaces))")
        }
      }
    }
    guard ok.contains(status) else { throw CLIError("fixpoint \(arguments.joined(separator: " ")) exited \(status): \(output.suffix(2000))") }
    return output
  }

  func fixpointStatus(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
    try ChildProcess.run(self.fixpointBinary, arguments + ["--data-dir", self.dir], environment: environment)
  }

  /// A `--output json` listing as objects.
  func json(_ arguments: [String]) throws -> [[String: Any]] {
    let output = try self.fixpoint(arguments + ["--output", "json"], show: false)
    let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8))
    return parsed as? [[String: Any]] ?? (parsed as? [String: Any]).map { [$0] } ?? []
  }

  func actions() throws -> [[String: Any]] { try self.json(["remediation", "list", "--limit", "0"]) }

  @discardableResult
  func helper(_ arguments: [String]) throws -> String {
    let script = self.repo.appendingPathComponent("scripts/lib/demo_estate.py").path
    let (status, output) = try ChildProcess.run(self.python, [script] + arguments)
    guard status == 0 else { throw CLIError("demo_estate.py \(arguments.first ?? "") failed: \(output.suffix(2000))") }
    return output
  }

  func openPorts(_ group: String) throws -> String {
    let state = try JSONSerialization.jsonObject(with: Data(try self.helper(["read", self.endpoint]).utf8)) as? [String: Any] ?? [:]
    let groups = (state["us-east-1"] as? [String: Any])?["security_groups"] as? [String: [String: Any]] ?? [:]
    let ports = groups[group]?["open_ports"] as? [Int] ?? []
    return "open to the world on \(group): \(ports.map(String.init).joined(separator: ", "))"
  }

  static func resourceName(_ action: [String: Any]) -> String {
    let resource = action["resource"] as? [String: Any] ?? [:]
    return (resource["external_id"] as? String) ?? (resource["resource_id"] as? String) ?? ""
  }

  static func compact(_ value: Any?) -> String {
    guard let value, !(value is NSNull) else { return "∅" }
    if let string = value as? String { return string }
    let data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])) ?? Data()
    let text = String(decoding: data, as: UTF8.self)
    return text.count > 60 ? String(text.prefix(57)) + "…" : text
  }
}
