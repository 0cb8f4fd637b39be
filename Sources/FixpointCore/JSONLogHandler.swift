import Foundation
public import Logging

/// A swift-log handler writing one JSON object per line to standard error:
/// `{"ts":…,"level":…,"service":…,"msg":…,"request_id":…, …metadata}`.
/// The request id of the RPC being served (see `RequestContext`) is added automatically.
public struct JSONLogHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level
  private let label: String

  public init(label: String, level: Logger.Level) {
    self.label = label
    self.logLevel = level
  }

  /// Bootstraps swift-log with this handler for the whole process. Call once, first thing in `main`.
  public static func bootstrap(service: String, level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in JSONLogHandler(label: service.isEmpty ? label : service, level: level) }
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { self.metadata[key] }
    set { self.metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var object: [String: Any] = [
      "ts": ISO8601DateFormatter.logFormatter.string(from: Date()),
      "level": event.level.rawValue,
      "service": self.label,
      "msg": Bounded.text("\(event.message)", max: Bounded.logField),
    ]
    if let requestID = RequestContext.current?.requestID { object["request_id"] = requestID }
    for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
      object[key] = Self.plain(value)
    }
    guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
    data.append(0x0A)
    FileHandle.standardError.write(data)
  }

  private static func plain(_ value: Logger.Metadata.Value) -> Any {
    switch value {
    case .string(let s): Bounded.text(s, max: Bounded.logField)
    case .stringConvertible(let s): Bounded.text(s.description, max: Bounded.logField)
    case .array(let a): a.map(plain)
    case .dictionary(let d): d.mapValues(plain)
    }
  }
}

extension ISO8601DateFormatter {
  fileprivate nonisolated(unsafe) static let logFormatter: ISO8601DateFormatter = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f
  }()
}
