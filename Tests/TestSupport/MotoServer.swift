import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `moto_server` (the local AWS API) on a loopback port of its own, for one test. Stopped
/// when released.
public final class MotoServer: Sendable {
  public let port: Int
  public var endpoint: String { "http://127.0.0.1:\(self.port)" }
  private let process: Process

  /// Ports 31000–31999: clear of the service clusters' ranges.
  public init() async throws {
    self.port = try LoopbackPorts.block(width: 1, in: 31_000..<32_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [try TestPython.tool("moto_server"), "-H", "127.0.0.1", "-p", "\(self.port)"]
    var environment = ProcessInfo.processInfo.environment
    environment["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    self.process = process
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      if (try? await self.post("/moto-api/reset")) != nil { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    process.terminate()
    throw TestSupportError("moto_server did not start on port \(self.port); see its output by running it by hand")
  }

  deinit {
    // SIGKILL: moto keeps nothing worth a clean stop, and the dev server can ignore SIGTERM.
    if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
  }

  /// Clears every account and region.
  public func reset() async throws { _ = try await self.post("/moto-api/reset") }

  func post(_ path: String) async throws -> Data {
    var request = URLRequest(url: URL(string: self.endpoint + path)!)
    request.httpMethod = "POST"
    return try await withCheckedThrowingContinuation { continuation in
      URLSession.shared.dataTask(with: request) { data, response, error in
        if let error {
          continuation.resume(throwing: error)
        } else if let http = response as? HTTPURLResponse, http.statusCode == 200 {
          continuation.resume(returning: data ?? Data())
        } else {
          continuation.resume(throwing: TestSupportError("\(path) answered \(String(describing: response))"))
        }
      }.resume()
    }
  }
}

public struct TestSupportError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Runs `body`, which blocks (waits for a child process, reads a pipe to its end, sleeps), on a
/// thread of its own. On the cooperative pool instead, two such waits at once hold both of this
/// machine's two pool threads, and every other test of the run stalls with them: its clients'
/// answers, its in-process services, its timers (a fuzz call timed out at 15 s and in-process
/// services took 13 s to stop while other tests waited on Python scripts).
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread { continuation.resume(with: Result { try body() }) }.start()
  }
}

/// Runs a command to completion: its exit status, standard output and standard error.
public func runCommand(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
  try await blocking { try runCommandBlocking(arguments, environment: environment) }
}

private func runCommandBlocking(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let out = Pipe()
  let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("fp-stderr-\(UUID().uuidString)").path
  FileManager.default.createFile(atPath: errPath, contents: nil)
  defer { try? FileManager.default.removeItem(atPath: errPath) }
  process.standardOutput = out
  process.standardError = FileHandle(forWritingAtPath: errPath)
  try process.run()
  let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let stderrData = FileManager.default.contents(atPath: errPath) ?? Data()
  return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
}
