import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import Testing

@Suite("The fixpoint CLI against real services", .serialized)
struct CLITests {
  static let fixpoint = Cluster.binDir + "/fixpoint"

  /// The environment that points the CLI at `cluster` and its data directory's admin token.
  static func environment(_ cluster: Cluster) -> [String: String] {
    var env = Dictionary(
      uniqueKeysWithValues: ServiceName.allCases.map { ("FIXPOINT_\($0.key.uppercased())_ADDR", cluster.address($0).description) })
    env["FIXPOINT_DATA_DIR"] = cluster.dataDir
    env["FIXPOINT_TOKEN"] = ""
    return env
  }

  static func json(_ output: String) throws -> [[String: Any]] {
    guard let rows = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else {
      throw ClusterError("not a JSON array: \(output)")
    }
    return rows
  }

  @Test("alerts are raised, repeated safely, acknowledged and listed; a viewer or bad input changes nothing")
  func alerts() async throws {
    let cluster = try await Cluster()
    let env = Self.environment(cluster)
    func alertCount(_ title: String) throws -> Int {
      try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert WHERE title = ?", arguments: [title]) ?? -1 }
    }

    let create = ["alerts", "create", "--title", "from the cli", "--severity", "high", "--request-id", "cli-req-1", "--output", "json"]
    let (code, output) = try await Cluster.run(Self.fixpoint, create, environment: env)
    #expect(code == 0, "\(output)")
    let id = try #require(try Self.json(output).first?["id"] as? String)
    // The same request id again: the first answer, no second alert.
    let (again, repeated) = try await Cluster.run(Self.fixpoint, create, environment: env)
    #expect(again == 0)
    #expect(try Self.json(repeated).first?["id"] as? String == id)
    #expect(try alertCount("from the cli") == 1)
    let row = try cluster.query(.notifier) { try Row.fetchOne($0, sql: "SELECT severity, created_by FROM alert WHERE id = ?", arguments: [id]) }
    #expect(row?["severity"] == 4)
    #expect(row?["created_by"] == "admin")

    let (ackCode, ackOutput) = try await Cluster.run(Self.fixpoint, ["alerts", "ack", id, "--comment", "looking"], environment: env)
    #expect(ackCode == 0, "\(ackOutput)")
    let acked = try cluster.query(.notifier) { try Row.fetchOne($0, sql: "SELECT status, acknowledged_by, comment FROM alert WHERE id = ?", arguments: [id]) }
    #expect(acked?["status"] == 2)
    #expect(acked?["acknowledged_by"] == "admin")
    #expect(acked?["comment"] == "looking")

    let (_, listed) = try await Cluster.run(Self.fixpoint, ["alerts", "list", "--status", "acknowledged", "--output", "json"], environment: env)
    #expect(try Self.json(listed).map { $0["id"] as? String } == [id])
    let (_, table) = try await Cluster.run(Self.fixpoint, ["alerts", "list"], environment: env)
    #expect(table.hasPrefix("ID "))
    #expect(table.contains(id) && table.contains("acknowledged"))

    // A viewer's token (from FIXPOINT_TOKEN) reads but cannot raise alerts.
    var viewer = env
    viewer["FIXPOINT_TOKEN"] = try await cluster.token(role: .viewer)
    let (denied, deniedOutput) = try await Cluster.run(Self.fixpoint, ["alerts", "create", "--title", "by a viewer"], environment: viewer)
    #expect(denied != 0)
    #expect(deniedOutput.contains("permissionDenied"), "\(deniedOutput)")
    #expect(try alertCount("by a viewer") == 0)
    let (viewerList, _) = try await Cluster.run(Self.fixpoint, ["alerts", "list"], environment: viewer)
    #expect(viewerList == 0)

    // Bad input is refused before anything changes: by the CLI, or by the service naming the field.
    let (badEnum, badEnumOutput) = try await Cluster.run(Self.fixpoint, ["alerts", "create", "--title", "t", "--severity", "apocalyptic"], environment: env)
    #expect(badEnum != 0)
    #expect(badEnumOutput.contains("critical"), "the error lists the accepted values")
    let (badTitle, badTitleOutput) = try await Cluster.run(Self.fixpoint, ["alerts", "create", "--title", ""], environment: env)
    #expect(badTitle != 0)
    #expect(badTitleOutput.contains("invalidArgument") && badTitleOutput.contains("title"), "\(badTitleOutput)")
    #expect(try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert") } == 1)

    // Without any token the CLI says how to get one.
    var none = env
    none["FIXPOINT_DATA_DIR"] = cluster.dataDir + "/nowhere"
    let (noToken, noTokenOutput) = try await Cluster.run(Self.fixpoint, ["alerts", "list"], environment: none)
    #expect(noToken != 0)
    #expect(noTokenOutput.contains("fixpoint init"))
  }

  @Test("fixpoint backup copies every store while the services run; a service restored from its copy (stopped, file replaced, started) has exactly what the copy had")
  func backupAndRestore() async throws {
    let cluster = try await Cluster()
    let env = Self.environment(cluster)
    func alerts() throws -> [String] { try cluster.query(.notifier) { try String.fetchAll($0, sql: "SELECT title FROM alert ORDER BY title") } }
    #expect(try await Cluster.run(Self.fixpoint, ["alerts", "create", "--title", "before the backup", "--severity", "low"], environment: env).0 == 0)
    let copies = cluster.dataDir + "/backup-1"
    let (status, output) = try await Cluster.run(Self.fixpoint, ["backup", "--to", copies, "--output", "json"], environment: env)
    #expect(status == 0, "\(output)")
    #expect(try Self.json(output).count == 5)
    #expect(try await Cluster.run(Self.fixpoint, ["alerts", "create", "--title", "after the backup", "--severity", "low"], environment: env).0 == 0)
    #expect(try alerts() == ["after the backup", "before the backup"])
    // Backing up into the same directory again is refused; nothing is overwritten.
    #expect(try await Cluster.run(Self.fixpoint, ["backup", "--to", copies], environment: env).0 != 0)

    // Restore the notifier as docs/operations.md says.
    #expect(await cluster.stop(.notifier, signal: SIGTERM) != nil)
    let store = cluster.databasePath(.notifier)
    for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) }
    try FileManager.default.removeItem(atPath: store)
    try FileManager.default.copyItem(atPath: copies + "/notifier.sqlite", toPath: store)
    try cluster.start(.notifier)
    try await cluster.waitUntilServing(.notifier)
    let (_, listed) = try await Cluster.run(Self.fixpoint, ["alerts", "list", "--output", "json"], environment: env)
    #expect(try Self.json(listed).compactMap { $0["title"] as? String } == ["before the backup"])
  }

  @Test("listings of every service print JSON arrays read from its store")
  func listings() async throws {
    let cluster = try await Cluster()
    let env = Self.environment(cluster)
    let (code, frameworks) = try await Cluster.run(Self.fixpoint, ["frameworks", "list", "--output", "json"], environment: env)
    #expect(code == 0, "\(frameworks)")
    // Frameworks are data (FixpointControls), not rows: the CLI prints what the RPC answers.
    let served = try await cluster.withClient(.compliance) {
      try await Fixpoint_V1_ComplianceService.Client(wrapping: $0).listFrameworks(.init()).frameworks.map(\.id).sorted()
    }
    #expect(try Self.json(frameworks).compactMap { $0["id"] as? String }.sorted() == served)
    #expect(served == ["cis-aws-1.2", "cis-aws-3.0", "fsbp", "hipaa", "nist-800-53-r5", "pci-dss-4.0", "soc2"])

    let (_, schedules) = try await Cluster.run(Self.fixpoint, ["drifts", "schedules", "--output", "json"], environment: env)
    let names = try cluster.query(.drift) { try String.fetchAll($0, sql: "SELECT name FROM schedule ORDER BY name") }
    #expect(try Self.json(schedules).compactMap { $0["name"] as? String }.sorted() == names)

    for command in [["findings", "list"], ["providers", "list"], ["resources", "list"], ["drifts", "list"]] {
      let (status, output) = try await Cluster.run(Self.fixpoint, command + ["--output", "json"], environment: env)
      #expect(status == 0, "\(command): \(output)")
      #expect(try Self.json(output).isEmpty, "\(command)")
    }
  }

  @Test("fixpoint up initializes, runs all five until they serve, records their addresses, and SIGTERM stops them all")
  func up() async throws {
    let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("fixpoint-up-\(UUID().uuidString.prefix(8))").path
    defer { try? FileManager.default.removeItem(atPath: dataDir) }
    let offset = 3_000 + Int(getpid() % 50) * 100  // gRPC 10101…, metrics 12101…: clear of Cluster's 20000–30999
    let logPath = dataDir + ".log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: logPath) }
    let up = Process()
    up.executableURL = URL(fileURLWithPath: Self.fixpoint)
    up.arguments = ["up", "--data-dir", dataDir, "--port-offset", "\(offset)"]
    up.standardOutput = FileHandle(forWritingAtPath: logPath)
    up.standardError = up.standardOutput
    try up.run()
    defer { if up.isRunning { kill(up.processIdentifier, SIGKILL) } }
    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    #expect(try await Cluster.eventually(timeout: 60) { log().contains("all five services serving") }, "\(log())")
    #expect(FileManager.default.fileExists(atPath: KeyFiles(dataDirectory: dataDir).privateKey))
    for service in ServiceName.allCases {
      #expect(FileManager.default.fileExists(atPath: "\(dataDir)/\(service.rawValue).sqlite"), "\(service) has its own store")
    }
    // Other commands find the suite from the data directory alone.
    let (status, output) = try await Cluster.run(Self.fixpoint, ["status", "--data-dir", dataDir, "--output", "json"])
    #expect(status == 0, "\(output)")
    #expect(try Self.json(output).map { $0["address"] as? String } == ServiceName.allCases.map { "127.0.0.1:\($0.defaultGRPCPort + offset)" })
    let prefixed = log().split(separator: "\n").filter { $0.hasPrefix("notifier ") && $0.contains(" | {") }
    #expect(!prefixed.isEmpty, "children's logs carry their name")

    kill(up.processIdentifier, SIGTERM)
    #expect(try await Cluster.eventually(timeout: 20) { !up.isRunning })
    for service in ServiceName.allCases { #expect(log().contains("fixpoint: \(service.key) exited with status 0"), "\(log())") }
    let (after, _) = try await Cluster.run(Self.fixpoint, ["status", "--data-dir", dataDir])
    #expect(after == 3, "nothing is left serving")
  }
}
