import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint up`: the single-host way to run the suite.
struct Up: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run all five services on this host as child processes.",
    discussion: """
      Initializes the data directory on first run (and renews the services' token when under \
      10 days remain, then hourly checks), starts inventory, drift, compliance, \
      remediation-dispatcher and notifier with their stores in it, prefixes their logs with their \
      names, reports any that exits, and stops them all on Ctrl-C or SIGTERM. The executables are \
      looked up next to this one. Their addresses are written to DATA_DIR/addresses.json, where \
      other commands given the same data directory find them.
      """)

  @OptionGroup var data: DataDirOptions
  @Option(help: "Added to every default port (7101–7105 gRPC, 9101–9105 metrics), to run a second suite.")
  var portOffset: Int = 0

  func validate() throws {
    guard (0...(65_535 - 9_105)).contains(self.portOffset) else { throw ValidationError("--port-offset must be between 0 and 56430") }
  }

  func run() async throws {
    let dataDir = self.data.resolved
    for line in try await KeyFiles.initialize(dataDirectory: dataDir) where line.hasPrefix("created") { say("fixpoint: \(line)") }
    try await Token.RotateService.rotate(dataDirectory: dataDir, onlyIfDue: true)
    let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let supervisor = Supervisor()
    for service in ServiceName.allCases {
      let exe = binDir.appendingPathComponent(service.executable)
      guard FileManager.default.isExecutableFile(atPath: exe.path) else {
        supervisor.stopAll()
        throw CLIError("\(exe.path) not found; build with `swift build` first")
      }
      var args = ["--data-dir", dataDir,
                  "--grpc-port", "\(service.defaultGRPCPort + self.portOffset)",
                  "--metrics-port", "\(service.defaultMetricsPort + self.portOffset)"]
      for peer in ServiceName.allCases where peer != service {
        args += ["--\(peer.key)-addr", "127.0.0.1:\(peer.defaultGRPCPort + self.portOffset)"]
      }
      try supervisor.start(name: service.key, executable: exe, arguments: args)
    }
    try SuiteAddresses.write(
      Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ($0.key, "127.0.0.1:\($0.defaultGRPCPort + self.portOffset)") }),
      dataDirectory: dataDir)
    say("fixpoint: started all five; waiting for them to serve…")
    if await Self.waitUntilServing(portOffset: self.portOffset, timeout: 60) {
      say("fixpoint: all five services serving (data in \(dataDir)); Ctrl-C stops them")
    } else {
      say("fixpoint: not every service is serving after 60 s; see the log lines above and `fixpoint status`")
    }
    // The services' token lives 30 days: renewed in place while the suite runs.
    let renewal = Task {
      while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(3600))
        do { try await Token.RotateService.rotate(dataDirectory: dataDir, onlyIfDue: true) } catch {
          say("fixpoint: could not renew the service token: \(error)")
        }
      }
    }
    await supervisor.waitForSignalOrExit()
    renewal.cancel()
  }
}

extension Up {
  /// Whether every service answered its health check as serving before `timeout` seconds.
  static func waitUntilServing(portOffset: Int, timeout: TimeInterval) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var waiting = Set(ServiceName.allCases)
    while !waiting.isEmpty && Date() < deadline {
      for service in waiting {
        let address = PeerAddress("127.0.0.1:\(service.defaultGRPCPort + portOffset)")!
        if let (status, _) = try? await Status.check(address), status == "serving" { waiting.remove(service) }
      }
      if !waiting.isEmpty { try? await Task.sleep(for: .milliseconds(250)) }
    }
    return waiting.isEmpty
  }
}

/// Starts child processes, prefixes their output, and stops them together.
final class Supervisor: @unchecked Sendable {
  private var processes: [(String, Process)] = []
  private var signalSources: [any DispatchSourceSignal] = []
  private var reported: Set<String> = []
  private let lock = NSLock()
  private let width = ServiceName.allCases.map(\.key.count).max() ?? 10
  /// When set, exits are not reported (the demo says itself what it stops).
  var quietExits = false

  /// Children stopped with SIGKILL rather than SIGTERM (they hold nothing to save).
  private var killOnStop: Set<String> = []

  /// Starts a child; its output goes to `log` when given, else to stdout with its name in front.
  /// `killOnStop`: stop it with SIGKILL (a Python child inherits this process's blocked SIGTERM
  /// and would not see a SIGTERM at all).
  func start(name: String, executable: URL, arguments: [String], log: String? = nil, killOnStop: Bool = false) throws {
    if killOnStop { self.lock.withLock { _ = self.killOnStop.insert(name) } }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let log {
      FileManager.default.createFile(atPath: log, contents: nil)
      let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
      process.standardOutput = handle
      process.standardError = handle
    } else {
      let pipe = Pipe()
      process.standardOutput = pipe
      process.standardError = pipe
      let prefix = name.padding(toLength: self.width, withPad: " ", startingAt: 0) + " | "
      let buffer = LineBuffer()
      pipe.fileHandleForReading.readabilityHandler = { handle in
        let data = handle.availableData
        for line in buffer.append(data) { FileHandle.standardOutput.write(Data((prefix + line + "\n").utf8)) }
      }
    }
    process.terminationHandler = { [self] p in self.reportExit(name, p) }
    try process.run()
    self.lock.withLock { self.processes.append((name, process)) }
  }

  func stopAll() {
    let all = self.lock.withLock { self.processes }
    let killed = self.lock.withLock { self.killOnStop }
    for (name, p) in all where p.isRunning {
      if killed.contains(name) { kill(p.processIdentifier, SIGKILL) } else { p.terminate() }
    }
    let deadline = Date().addingTimeInterval(10)
    while all.contains(where: { $0.1.isRunning }) && Date() < deadline { usleep(50_000) }
    for (name, p) in all where p.isRunning {
      say("fixpoint: \(name) did not stop within 10 s of SIGTERM; killing it")
      kill(p.processIdentifier, SIGKILL)
    }
    // A termination handler runs on its own thread and may not have run yet: report here too, once.
    for (name, p) in all {
      p.waitUntilExit()
      self.reportExit(name, p)
    }
  }

  /// Says how a child exited, once per child whichever of its handler and `stopAll` comes first.
  private func reportExit(_ name: String, _ p: Process) {
    guard self.lock.withLock({ self.reported.insert(name).inserted }), !self.quietExits else { return }
    FileHandle.standardOutput.write(Data("fixpoint: \(name) exited with status \(p.terminationStatus)\n".utf8))
  }

  /// Returns after SIGINT or SIGTERM (having stopped every child), or when every child has exited.
  func waitForSignalOrExit() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let stream = AsyncStream<Int32> { continuation in
      for sig in [SIGINT, SIGTERM] {
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { continuation.yield(sig) }
        source.resume()
        self.lock.withLock { self.signalSources.append(source) }
      }
      Thread.detachNewThread {
        while self.lock.withLock({ self.processes.contains(where: { $0.1.isRunning }) }) { usleep(200_000) }
        continuation.finish()
      }
    }
    for await _ in stream {
      say("fixpoint: stopping all services")
      self.stopAll()
      return
    }
    say("fixpoint: every service has exited")
  }
}

/// Writes a line to standard output at once, unbuffered like the children's lines it interleaves
/// with (print() would hold it back when the output is a pipe or a file).
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Splits a byte stream into lines.
final class LineBuffer: @unchecked Sendable {
  private var pending = Data()
  private let lock = NSLock()

  func append(_ data: Data) -> [String] {
    self.lock.withLock {
      self.pending.append(data)
      var lines: [String] = []
      while let newline = self.pending.firstIndex(of: 0x0A) {
        lines.append(String(decoding: self.pending[self.pending.startIndex..<newline], as: UTF8.self))
        self.pending.removeSubrange(self.pending.startIndex...newline)
      }
      return lines
    }
  }
}
