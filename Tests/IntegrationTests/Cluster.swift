import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Synchronization
import TestSupport
import Testing

/// The real suite for a test: the five executables as separate processes on loopback ports, each
/// with its own SQLite file in a temporary data directory created by `fixpoint init`.
final class Cluster: Sendable {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let binDir = ProcessInfo.processInfo.environment["FIXPOINT_BIN_DIR"] ?? root.appendingPathComponent(".build/debug").path

  let dataDir: String
  let basePort: Int
  let adminToken: String
  /// When set, every service serves and calls with mutual TLS, and so do the test's clients.
  let tls: TLSSettings?
  /// Flags added to one service's command line.
  let extraArguments: [ServiceName: [String]]
  private let processes = Mutex<[ServiceName: Process]>([:])

  /// Ports: base + 0…4 gRPC, base + 5…9 metrics, base + 10…14 health (TLS clusters), from
  /// 20000–29999; free when taken and never shared with another cluster of the run.
  init(mutualTLS: Bool = false, extraArguments: [ServiceName: [String]] = [:]) async throws {
    self.extraArguments = extraArguments
    self.basePort = try LoopbackPorts.block(width: 15, in: 20_000..<30_000)
    self.dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("fixpoint-it-\(UUID().uuidString.prefix(8))").path
    let (status, output) = try await Self.run(Self.binDir + "/fixpoint", ["init", "--data-dir", self.dataDir])
    guard status == 0 else { throw ClusterError("fixpoint init failed: \(output)") }
    self.adminToken = try String(contentsOfFile: KeyFiles(dataDirectory: self.dataDir).adminToken, encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    self.tls = mutualTLS ? try await Self.makeCertificates(in: self.dataDir + "/tls") : nil
    for service in ServiceName.allCases { try self.start(service) }
    for service in ServiceName.allCases { try await self.waitUntilServing(service) }
  }

  deinit {
    for (_, p) in self.processes.withLock({ $0 }) where p.isRunning { kill(p.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(atPath: self.dataDir)
  }

  func grpcPort(_ s: ServiceName) -> Int { self.basePort + ServiceName.allCases.firstIndex(of: s)! }
  func metricsPort(_ s: ServiceName) -> Int { self.basePort + 5 + ServiceName.allCases.firstIndex(of: s)! }
  /// The plaintext health-only port used in TLS clusters.
  func healthPort(_ s: ServiceName) -> Int { self.basePort + 10 + ServiceName.allCases.firstIndex(of: s)! }
  func address(_ s: ServiceName) -> PeerAddress { PeerAddress("127.0.0.1:\(self.grpcPort(s))")! }
  func databasePath(_ s: ServiceName) -> String { "\(self.dataDir)/\(s.rawValue).sqlite" }

  /// Starts (or restarts) one service.
  func start(_ service: ServiceName) throws {
    var args = ["--data-dir", self.dataDir, "--grpc-port", "\(self.grpcPort(service))",
                "--metrics-port", "\(self.metricsPort(service))", "--relay-interval-ms", "50",
                "--relay-backoff-max-ms", "500", "--log-level", "debug"]
    // A test may point a service at a peer through something in between (a relay it can cut).
    let extra = self.extraArguments[service] ?? []
    for peer in ServiceName.allCases where peer != service && !extra.contains("--\(peer.key)-addr") {
      args += ["--\(peer.key)-addr", self.address(peer).description]
    }
    // Assessments after a sync start on their own a few seconds later; only tests that ask for
    // them get them, so other tests' findings stay theirs.
    if service == .compliance && !(self.extraArguments[service] ?? []).contains("--compliance-assess-after-sync") {
      args += ["--compliance-assess-after-sync", "false"]
    }
    // Likewise automatic planning: tests that do not ask for it suggest and execute themselves.
    if service == .dispatcher && !(self.extraArguments[service] ?? []).contains("--dispatcher-auto-suggest") {
      args += ["--dispatcher-auto-suggest", "false"]
    }
    args += self.extraArguments[service] ?? []
    if let tls = self.tls {
      args += ["--tls-enabled", "true", "--tls-mutual", "true", "--tls-cert", tls.certificate, "--tls-key", tls.privateKey,
               "--tls-ca", tls.trustRoots, "--health-port", "\(self.healthPort(service))"]
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "\(Self.binDir)/\(service.executable)")
    process.arguments = args
    let log = FileHandle(forWritingAtPath: self.logPath(service)) ?? {
      FileManager.default.createFile(atPath: self.logPath(service), contents: nil)
      return FileHandle(forWritingAtPath: self.logPath(service))!
    }()
    log.seekToEndOfFile()
    process.standardOutput = log
    process.standardError = log
    try process.run()
    self.processes.withLock { $0[service] = process }
  }

  func isRunning(_ service: ServiceName) -> Bool { self.processes.withLock { $0[service]?.isRunning ?? false } }

  func logPath(_ service: ServiceName) -> String { "\(self.dataDir)/\(service.rawValue).log" }

  /// Sends `signal` and returns how long the process took to exit (nil if it did not within `timeout`).
  func stop(_ service: ServiceName, signal: Int32, timeout: TimeInterval = 10) async -> (Duration, Int32)? {
    guard let p = self.processes.withLock({ $0[service] }) else { return nil }
    let start = ContinuousClock.now
    kill(p.processIdentifier, signal)
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    return p.isRunning ? nil : (ContinuousClock.now - start, p.terminationStatus)
  }

  func waitUntilServing(_ service: ServiceName, timeout: TimeInterval = 30) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      let probe = self.tls == nil ? self.address(service) : PeerAddress("127.0.0.1:\(self.healthPort(service))")!
      if let status = try? await ClientFactory.withClient(address: probe, tls: nil, token: "", { client in
        try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init()).status
      }), status == .serving { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    let log = (try? String(contentsOfFile: self.logPath(service), encoding: .utf8)) ?? ""
    throw ClusterError("\(service.rawValue) did not become healthy: \(log.suffix(2000))")
  }

  func withClient<R: Sendable>(
    _ service: ServiceName, token: String? = nil,
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R
  ) async throws -> R {
    try await ClientFactory.withClient(address: self.address(service), tls: self.tls, token: token ?? self.adminToken, body)
  }

  /// A token for `role`, signed with this cluster's key.
  func token(role: Role, subject: String = "tester") async throws -> String {
    let (status, output) = try await Self.run(Self.binDir + "/fixpoint", ["token", "issue", "--data-dir", self.dataDir, "--subject", subject, "--role", role.rawValue, "--ttl", "10m"])
    guard status == 0 else { throw ClusterError(output) }
    return output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Reads a service's SQLite file directly (read-only), as an operator with sqlite3 would.
  func query<T>(_ service: ServiceName, _ body: (Database) throws -> T) throws -> T {
    var config = Configuration()
    config.readonly = true
    return try DatabaseQueue(path: self.databasePath(service), configuration: config).read(body)
  }

  /// Polls `condition` until it holds or `timeout` passes.
  static func eventually(timeout: TimeInterval = 15, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if (try? condition()) == true { return true }
      try await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
  }

  /// A CA, and one certificate signed by it for both server and client use (SAN 127.0.0.1, localhost).
  static func makeCertificates(in dir: String) async throws -> TLSSettings {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let script = """
      set -e
      cd '\(dir)'
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout ca.key -out ca.pem \\
        -subj /CN=fixpoint-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout node.key -out node.csr -subj /CN=localhost 2>/dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth,clientAuth\\n' > node.ext
      openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out node.pem -extfile node.ext 2>/dev/null
      """
    let (status, output) = try await self.run("/bin/bash", ["-c", script])
    guard status == 0 else { throw ClusterError("openssl failed: \(output)") }
    return TLSSettings(certificate: dir + "/node.pem", privateKey: dir + "/node.key", trustRoots: dir + "/ca.pem", mutual: true)
  }

  /// Runs a command to completion; returns its status and combined output.
  static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (Int32, String) {
    try await blocking { try ChildProcess.run(executable, arguments, environment: environment ?? [:]) }
  }
}

struct ClusterError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { self.description = d }
}
