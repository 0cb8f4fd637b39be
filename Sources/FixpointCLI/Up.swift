import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint up`: the single-host way to run the suite.
struct Up: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run all five services on this host as child processes.",
    discussion: """
      Initializes the data directory on first run, starts inventory, drift, compliance, \
      remediation-dispatcher and notifier with their stores in it, prefixes their logs with their \
      names, reports any that exits, and stops them all on Ctrl-C or SIGTERM. The executables are \
      looked up next to this one.
      """)

  @OptionGroup var data: DataDirOptions
  @Option(help: "Added to every default port (7101–7105 gRPC, 9101–9105 metrics), to run a second suite.")
  var portOffset: Int = 0

  func run() async throws {
    let dataDir = self.data.resolved
    for line in try await Init.initialize(dataDirectory: dataDir) where line.hasPrefix("created") { print("fixpoint: \(line)") }
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
    print("fixpoint: all five services started (data in \(dataDir)); Ctrl-C stops them")
    await supervisor.waitForSignalOrExit()
  }
}

/// Starts child processes, prefixes their output, and stops them together.
final class Supervisor: @unchecked Sendable {
  private var processes: [(String, Process)] = []
  private var signalSources: [any DispatchSourceSignal] = []
  private let lock = NSLock()
  private let width = ServiceName.allCases.map(\.key.count).max() ?? 10

  func start(name: String, executable: URL, arguments: [String]) throws {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let prefix = name.padding(toLength: self.width, withPad: " ", startingAt: 0) + " | "
    let buffer = LineBuffer()
    pipe.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      for line in buffer.append(data) { FileHandle.standardOutput.write(Data((prefix + line + "\n").utf8)) }
    }
    process.terminationHandler = { p in
      FileHandle.standardOutput.write(Data("fixpoint: \(name) exited with status \(p.terminationStatus)\n".utf8))
    }
    try process.run()
    self.lock.withLock { self.processes.append((name, process)) }
  }

  func stopAll() {
    let all = self.lock.withLock { self.processes }
    for (_, p) in all where p.isRunning { p.terminate() }
    let deadline = Date().addingTimeInterval(10)
    while all.contains(where: { $0.1.isRunning }) && Date() < deadline { usleep(50_000) }
    for (_, p) in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
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
      print("fixpoint: stopping all services")
      self.stopAll()
      return
    }
    print("fixpoint: every service has exited")
  }
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
