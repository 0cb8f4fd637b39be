import Configuration
import FixpointCore
import Foundation
import Testing

@Suite("Configuration")
struct SettingsTests {
  @Test("flags beat environment, which beats the config file, which beats defaults")
  func precedence() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fp-settings-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("config.json").path
    try Data(#"{"grpc": {"port": 7001}, "metrics": {"port": 8001}, "log": {"level": "debug"}}"#.utf8).write(to: URL(fileURLWithPath: file))

    let fileOnly = try ServiceSettings(reader: try await SettingsLoader.reader(arguments: ["--config", file], environment: [:]), service: .drift)
    #expect(fileOnly.grpcPort == 7001)
    #expect(fileOnly.metricsPort == 8001)
    #expect(fileOnly.logLevel == "debug")
    #expect(fileOnly.relayBatchSize == 100)  // default

    let env = ["FIXPOINT_GRPC_PORT": "7002", "FIXPOINT_METRICS_PORT": "8002", "FIXPOINT_CONFIG": file]
    let withEnv = try ServiceSettings(reader: try await SettingsLoader.reader(arguments: [], environment: env), service: .drift)
    #expect(withEnv.grpcPort == 7002)
    #expect(withEnv.metricsPort == 8002)
    #expect(withEnv.logLevel == "debug")

    let withFlag = try ServiceSettings(
      reader: try await SettingsLoader.reader(arguments: ["--grpc-port", "7003"], environment: env), service: .drift)
    #expect(withFlag.grpcPort == 7003)
    #expect(withFlag.metricsPort == 8002)

    let defaults = try ServiceSettings(reader: try await SettingsLoader.reader(arguments: [], environment: [:]), service: .drift)
    #expect(defaults.grpcPort == 7102)
    #expect(defaults.peers[.notifier] == "127.0.0.1:7105")
  }

  @Test("bad values are refused with the key named")
  func invalid() async throws {
    await #expect(throws: SettingsError.self) {
      _ = try ServiceSettings(reader: try await SettingsLoader.reader(arguments: ["--grpc-port", "70000"], environment: [:]), service: .drift)
    }
    await #expect(throws: SettingsError.invalid(key: "notifier.addr", reason: "expected host:port, got nowhere")) {
      _ = try ServiceSettings(reader: try await SettingsLoader.reader(arguments: ["--notifier-addr", "nowhere"], environment: [:]), service: .drift)
    }
    await #expect(throws: SettingsError.self) {
      _ = try await SettingsLoader.reader(arguments: ["--config", "/nonexistent/fixpoint.json"], environment: [:])
    }
  }

  @Test("flags that name no documented key are found, with or without =value")
  func unknownFlags() {
    let docs = ServiceSettings.documentation(for: .drift)
    #expect(SettingsLoader.unknownFlags(in: ["--grpc-port", "1", "--config", "f.json", "--notifier-addr=127.0.0.1:1"], settings: docs).isEmpty)
    #expect(SettingsLoader.unknownFlags(in: ["--grpc-prot", "1", "--remediation-dispatcher-addr=x", "value"], settings: docs)
      == ["--grpc-prot", "--remediation-dispatcher-addr"])
  }

  @Test("help lists every key with its flag and environment variable")
  func help() {
    let text = SettingsLoader.help(program: "drift", summary: "x", settings: ServiceSettings.documentation(for: .drift))
    #expect(text.contains("--grpc-port <int>  env FIXPOINT_GRPC_PORT"))
    #expect(text.contains("--notifier-addr"))
  }
}
