public import Configuration
public import Foundation

/// One documented configuration key: where it is read, its type and its default.
public struct SettingDoc: Sendable, Hashable {
  /// The dotted key, e.g. `grpc.port`. Flag: `--grpc-port`; environment: `FIXPOINT_GRPC_PORT`.
  public var key: String
  /// A short type name for help output: `int`, `string`, `bool`, `path`, `duration`.
  public var type: String
  /// The default, as shown in help; empty when there is none.
  public var defaultValue: String
  /// What the key does.
  public var summary: String

  public init(_ key: String, _ type: String, _ defaultValue: String, _ summary: String) {
    self.key = key
    self.type = type
    self.defaultValue = defaultValue
    self.summary = summary
  }

  /// The command-line flag for this key.
  public var flag: String { "--" + self.key.replacingOccurrences(of: ".", with: "-") }
  /// The environment variable for this key.
  public var environmentVariable: String {
    "FIXPOINT_" + self.key.uppercased().replacingOccurrences(of: ".", with: "_")
  }
}

/// Builds the configuration every executable reads, in increasing precedence:
/// defaults < config file (`--config FILE` or `FIXPOINT_CONFIG`, JSON) < environment
/// (`FIXPOINT_` + the key in upper case with `_` for `.`) < command-line flags (`--grpc-port 7101`).
public enum SettingsLoader {
  /// Creates the layered reader. `arguments` are the process arguments without the program name.
  public static func reader(
    arguments: [String],
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws -> ConfigReader {
    let cli = CommandLineArgumentsProvider(arguments: ["program"] + arguments)
    let env = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "fixpoint")
    var providers: [any ConfigProvider] = [cli, env]
    let probe = ConfigReader(providers: [cli, env])
    if let file = probe.string(forKey: "config") {
      guard FileManager.default.fileExists(atPath: file) else {
        throw SettingsError.invalid(key: "config", reason: "file \(file) does not exist")
      }
      do {
        providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(file)))
      } catch {
        throw SettingsError.invalid(key: "config", reason: "\(file) is not a valid JSON config: \(error)")
      }
    }
    return ConfigReader(providers: providers)
  }

  /// The flags in `arguments` that name no key of `settings` (nor `--config`): a typo such as
  /// `--dispatcher-adr` would otherwise be ignored and the default used without a word.
  public static func unknownFlags(in arguments: [String], settings: [SettingDoc]) -> [String] {
    let known = Set(settings.map(\.flag) + ["--config"])
    return arguments.filter { $0.hasPrefix("--") }
      .map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }
      .filter { !known.contains($0) }
  }

  /// Help text listing every key with its flag, environment variable, type and default.
  public static func help(program: String, summary: String, settings: [SettingDoc]) -> String {
    var out = "\(program) — \(summary)\n\nUSAGE: \(program) [--KEY VALUE …]\n\n"
    out += "Every key can be set, in increasing precedence, in a JSON config file (--config FILE),\n"
    out += "in the environment (FIXPOINT_KEY) or as a flag (--key).\n\nKEYS:\n"
    for s in settings.sorted(by: { $0.key < $1.key }) {
      let def = s.defaultValue.isEmpty ? "" : " (default: \(s.defaultValue))"
      out += "  \(s.flag) <\(s.type)>  env \(s.environmentVariable)\n      \(s.summary)\(def)\n"
    }
    return out
  }
}

/// A configuration value that cannot be used. The service refuses to start with it.
public enum SettingsError: Error, CustomStringConvertible, Equatable {
  case invalid(key: String, reason: String)

  public var description: String {
    switch self {
    case .invalid(let key, let reason): "configuration key \(key): \(reason)"
    }
  }
}

extension ConfigReader {
  /// An integer that must lie in `range`; outside it the service refuses to start, naming the key.
  public func int(forKey key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
    let value = self.int(forKey: ConfigKey(key), default: defaultValue)
    guard range.contains(value) else { throw SettingsError.invalid(key: key, reason: "must be \(range.lowerBound)–\(range.upperBound)") }
    return value
  }

  /// A number that must lie in `range`, as `int(forKey:default:in:)`.
  public func double(forKey key: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Double {
    let value = self.double(forKey: ConfigKey(key), default: defaultValue)
    guard range.contains(value) else {
      throw SettingsError.invalid(key: key, reason: "must be \(range.lowerBound.formatted())–\(range.upperBound.formatted())")
    }
    return value
  }

  /// A text value that may contain commas (JSON, lists). The command-line provider splits values
  /// on commas, so a value that arrives in pieces is joined back.
  public func text(forKey key: ConfigKey, default defaultValue: String) -> String {
    if let parts = self.stringArray(forKey: key), parts.count > 1 { return parts.joined(separator: ",") }
    return self.string(forKey: key, default: defaultValue)
  }
}
