public import Configuration
import Foundation

/// The five services, their default ports and the events they route to each other.
public enum ServiceName: String, CaseIterable, Sendable, Codable {
  case inventory
  case drift
  case compliance
  case dispatcher = "remediation-dispatcher"
  case notifier

  /// The executable's name.
  public var executable: String { self.rawValue }
  /// The short name used in configuration keys (`dispatcher.addr`) and log prefixes.
  public var key: String { self == .dispatcher ? "dispatcher" : self.rawValue }
  /// Default gRPC port (7101–7105).
  public var defaultGRPCPort: Int {
    switch self {
    case .inventory: 7101
    case .drift: 7102
    case .compliance: 7103
    case .dispatcher: 7104
    case .notifier: 7105
    }
  }
  /// Default Prometheus port (9101–9105).
  public var defaultMetricsPort: Int { self.defaultGRPCPort + 2000 }
  /// The services this one calls for reads and changes (`ServiceEnvironment.peerClient` refuses
  /// any other). With `downstream`, the suite's only service-to-service arrows: the Kubernetes
  /// NetworkPolicies allow exactly these (DeployTests checks them).
  public var peers: [ServiceName] {
    switch self {
    case .drift: [.inventory, .compliance]
    case .compliance, .dispatcher: [.inventory]
    case .inventory, .notifier: []
    }
  }
  /// Every service this one calls: its peers and its events' receivers.
  public var calls: Set<ServiceName> { Set(self.peers + self.downstream) }
  /// Where this service's outbox relay sends its events. Event types are filtered by the receiver.
  public var downstream: [ServiceName] {
    switch self {
    case .inventory: [.drift, .compliance, .notifier]
    case .drift: [.dispatcher, .notifier]
    case .compliance: [.dispatcher, .notifier]
    case .dispatcher: [.notifier]
    case .notifier: []
    }
  }
}

/// TLS settings for a gRPC server or client.
public struct TLSSettings: Sendable, Equatable {
  /// PEM certificate chain presented by this process.
  public var certificate: String
  /// PEM private key for `certificate`.
  public var privateKey: String
  /// PEM CA bundle used to verify the peer; empty means the system roots.
  public var trustRoots: String
  /// Whether a server demands, and a client presents, a certificate (mutual TLS).
  public var mutual: Bool

  public init(certificate: String, privateKey: String, trustRoots: String, mutual: Bool) {
    self.certificate = certificate
    self.privateKey = privateKey
    self.trustRoots = trustRoots
    self.mutual = mutual
  }
}

/// The settings every service executable shares.
public struct ServiceSettings: Sendable {
  public var service: ServiceName
  /// The data directory: the SQLite store and, by default, the keys.
  public var dataDirectory: String
  public var grpcHost: String
  public var grpcPort: Int
  /// 0 disables the metrics endpoint.
  public var metricsPort: Int
  /// A plaintext port serving only `grpc.health.v1.Health` (for probes when the main port needs
  /// mutual TLS); 0 disables it.
  public var healthPort: Int
  public var databasePath: String
  public var publicKeyPath: String
  public var serviceTokenPath: String
  public var logLevel: String
  public var tls: TLSSettings?
  /// Addresses of the other services ("host:port").
  public var peers: [ServiceName: String]
  public var relayIntervalMilliseconds: Int
  public var relayMaxBackoffMilliseconds: Int
  public var relayBatchSize: Int
  public var shutdownGraceSeconds: Int
  /// gRPC connection management: a connection with no RPC for this long is closed (also one that
  /// never finished the HTTP/2 handshake); keepalive pings probe a silent peer after `keepalive`.
  public var connectionIdleSeconds: Int
  public var handshakeTimeoutSeconds: Int
  public var connectionKeepaliveSeconds: Int
  /// Connections held at once; more are closed as they are accepted.
  public var maxConnections: Int
  /// The furthest ahead, in days, an accepted token may expire.
  public var tokenMaxDays: Int
  /// How long a call to a peer service waits for its answer when the caller sets no timeout of its own.
  public var peerCallTimeoutSeconds: Int

  /// Every key read by `init(reader:service:)`.
  public static func documentation(for service: ServiceName) -> [SettingDoc] {
    var docs: [SettingDoc] = [
      SettingDoc("config", "path", "", "JSON configuration file (keys nested by their dots)"),
      SettingDoc("data.dir", "path", "./fixpoint-data", "data directory: store and keys"),
      SettingDoc("grpc.host", "string", "127.0.0.1", "address the gRPC server binds"),
      SettingDoc("grpc.port", "int", "\(service.defaultGRPCPort)", "gRPC port"),
      SettingDoc("health.port", "int", "0", "extra plaintext port serving only gRPC health (for kubelet probes under mTLS); 0 disables"),
      SettingDoc("metrics.port", "int", "\(service.defaultMetricsPort)", "Prometheus /metrics port; 0 disables"),
      SettingDoc("db.path", "path", "DATA_DIR/\(service.rawValue).sqlite", "SQLite store"),
      SettingDoc("auth.public.key", "path", "DATA_DIR/keys/signing.pub.pem", "Ed25519 public key that verifies tokens"),
      SettingDoc("auth.service.token", "path", "DATA_DIR/keys/service.token", "file with this service's token for calls to other services"),
      SettingDoc("auth.token.max.days", "int", "30", "refuse tokens that expire further ahead than this (1–366); the services' own token included"),
      SettingDoc("log.level", "string", "info", "trace, debug, info, notice, warning, error, critical"),
      SettingDoc("tls.enabled", "bool", "false", "serve and call over TLS"),
      SettingDoc("tls.cert", "path", "", "PEM certificate chain"),
      SettingDoc("tls.key", "path", "", "PEM private key"),
      SettingDoc("tls.ca", "path", "", "PEM CA bundle that verifies peers"),
      SettingDoc("tls.mutual", "bool", "false", "require and present client certificates (mTLS)"),
      SettingDoc("relay.interval.ms", "int", "200", "how often the outbox relay looks for new events"),
      SettingDoc("relay.backoff.max.ms", "int", "30000", "longest wait between retries to an unreachable receiver"),
      SettingDoc("relay.batch.size", "int", "100", "events per delivery call"),
      SettingDoc("shutdown.grace.seconds", "int", "4", "time in-flight RPCs get after SIGTERM"),
      SettingDoc("grpc.connection.idle.seconds", "int", "300", "close a connection whose last RPC ended this long ago"),
      SettingDoc("grpc.handshake.timeout.seconds", "int", "10",
                 "close a connection that has not sent the HTTP/2 preface this long after connecting (silent or half-open sockets)"),
      SettingDoc("grpc.connection.keepalive.seconds", "int", "60",
                 "ping a connection silent for this long; no answer within 20 s closes it (half-open peers)"),
      SettingDoc("grpc.max.connections", "int", "512", "connections held at once; one more is closed as soon as it is accepted"),
      SettingDoc("peer.call.timeout.seconds", "int", "120",
                 "a call to another service not answered in this time fails DEADLINE_EXCEEDED (an execution pauses and resumes)"),
    ]
    for peer in ServiceName.allCases where peer != service {
      docs.append(SettingDoc("\(peer.key).addr", "host:port", "127.0.0.1:\(peer.defaultGRPCPort)", "address of \(peer.rawValue)"))
    }
    return docs
  }

  /// Reads and validates the shared keys (see `documentation(for:)`).
  public init(reader: ConfigReader, service: ServiceName) throws {
    self.service = service
    let dataDir = reader.string(forKey: "data.dir", default: "./fixpoint-data")
    self.dataDirectory = dataDir
    self.grpcHost = reader.string(forKey: "grpc.host", default: "127.0.0.1")
    self.grpcPort = try Self.port(reader, "grpc.port", default: service.defaultGRPCPort)
    self.metricsPort = try Self.port(reader, "metrics.port", default: service.defaultMetricsPort)
    self.healthPort = try Self.port(reader, "health.port", default: 0)
    self.databasePath = reader.string(forKey: "db.path", default: "\(dataDir)/\(service.rawValue).sqlite")
    self.publicKeyPath = reader.string(forKey: "auth.public.key", default: KeyFiles(dataDirectory: dataDir).publicKey)
    self.serviceTokenPath = reader.string(forKey: "auth.service.token", default: KeyFiles(dataDirectory: dataDir).serviceToken)
    self.logLevel = reader.string(forKey: "log.level", default: "info")
    if reader.bool(forKey: "tls.enabled", default: false) {
      let tls = TLSSettings(
        certificate: reader.string(forKey: "tls.cert", default: ""),
        privateKey: reader.string(forKey: "tls.key", default: ""),
        trustRoots: reader.string(forKey: "tls.ca", default: ""),
        mutual: reader.bool(forKey: "tls.mutual", default: false))
      for (key, path) in [("tls.cert", tls.certificate), ("tls.key", tls.privateKey)] where path.isEmpty {
        throw SettingsError.invalid(key: key, reason: "required when tls.enabled is true (\(path))")
      }
      self.tls = tls
    } else {
      self.tls = nil
    }
    var peers: [ServiceName: String] = [:]
    for peer in ServiceName.allCases where peer != service {
      let addr = reader.string(forKey: ConfigKey("\(peer.key).addr"), default: "127.0.0.1:\(peer.defaultGRPCPort)")
      guard PeerAddress(addr) != nil else {
        throw SettingsError.invalid(key: "\(peer.key).addr", reason: "expected host:port, got \(addr)")
      }
      peers[peer] = addr
    }
    self.peers = peers
    self.relayIntervalMilliseconds = reader.int(forKey: "relay.interval.ms", default: 200)
    self.relayMaxBackoffMilliseconds = reader.int(forKey: "relay.backoff.max.ms", default: 30_000)
    self.relayBatchSize = reader.int(forKey: "relay.batch.size", default: 100)
    self.shutdownGraceSeconds = reader.int(forKey: "shutdown.grace.seconds", default: 4)
    self.connectionIdleSeconds = reader.int(forKey: "grpc.connection.idle.seconds", default: 300)
    self.connectionKeepaliveSeconds = reader.int(forKey: "grpc.connection.keepalive.seconds", default: 60)
    self.handshakeTimeoutSeconds = reader.int(forKey: "grpc.handshake.timeout.seconds", default: 10)
    self.maxConnections = reader.int(forKey: "grpc.max.connections", default: 512)
    self.tokenMaxDays = reader.int(forKey: "auth.token.max.days", default: 30)
    self.peerCallTimeoutSeconds = reader.int(forKey: "peer.call.timeout.seconds", default: 120)
    guard (1...3600).contains(self.peerCallTimeoutSeconds) else {
      throw SettingsError.invalid(key: "peer.call.timeout.seconds", reason: "must be 1–3600")
    }
    guard (1...366).contains(self.tokenMaxDays) else {
      throw SettingsError.invalid(key: "auth.token.max.days", reason: "must be 1–366")
    }
    guard self.maxConnections > 0 else {
      throw SettingsError.invalid(key: "grpc.max.connections", reason: "must be positive")
    }
    guard self.connectionIdleSeconds > 0, self.connectionKeepaliveSeconds > 0, self.handshakeTimeoutSeconds > 0 else {
      throw SettingsError.invalid(key: "grpc.connection.idle.seconds", reason: "connection idle, keepalive and handshake times must be positive")
    }
    guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(self.logLevel) else {
      throw SettingsError.invalid(key: "log.level", reason: "unknown level \(self.logLevel)")
    }
    guard self.relayBatchSize > 0, self.relayIntervalMilliseconds > 0 else {
      throw SettingsError.invalid(key: "relay.batch.size", reason: "relay batch size and interval must be positive")
    }
  }

  private static func port(_ reader: ConfigReader, _ key: String, default value: Int) throws -> Int {
    let port = reader.int(forKey: ConfigKey(key), default: value)
    guard (0...65535).contains(port) else {
      throw SettingsError.invalid(key: key, reason: "\(port) is not a port number")
    }
    return port
  }
}

/// A "host:port" address, parsed.
public struct PeerAddress: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: Int

  public init?(_ text: String) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (1...65535).contains(port), colon != text.startIndex
    else { return nil }
    self.host = String(text[..<colon])
    self.port = port
  }

  public var description: String { "\(self.host):\(self.port)" }
}

/// Where `fixpoint init` puts the keys in a data directory.
public struct KeyFiles: Sendable {
  public var directory: String
  public init(dataDirectory: String) { self.directory = dataDirectory + "/keys" }
  /// Ed25519 private key (PEM) that signs tokens. Only the CLI reads it.
  public var privateKey: String { self.directory + "/signing.key.pem" }
  /// Ed25519 public key (PEM) every service verifies tokens with.
  public var publicKey: String { self.directory + "/signing.pub.pem" }
  /// 32 random bytes (base64) from which secrets are sealed at rest.
  public var masterKey: String { self.directory + "/master.key" }
  /// A long-lived admin token for the operator.
  public var adminToken: String { self.directory + "/admin.token" }
  /// A long-lived `service`-role token the services use to call each other.
  public var serviceToken: String { self.directory + "/service.token" }

  /// Why the key files could not be made.
  public struct Problem: Error, CustomStringConvertible {
    public let description: String
  }

  /// `fixpoint init`: creates what is missing in `dataDirectory` (the signing key pair, the
  /// master key, the admin and service tokens) and returns a line per file saying what happened.
  /// Never replaces a key; writes only a token that is missing.
  public static func initialize(dataDirectory: String, adminTTL: Double = 30 * 86_400) async throws -> [String] {
    let files = KeyFiles(dataDirectory: dataDirectory)
    let fm = FileManager.default
    try fm.createDirectory(atPath: files.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var report: [String] = []
    func write(_ path: String, _ contents: String) throws {
      guard fm.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw Problem(description: "cannot write \(path)")
      }
      report.append("created \(path)")
    }
    if fm.fileExists(atPath: files.privateKey) {
      report.append("kept    \(files.privateKey)")
      if !fm.fileExists(atPath: files.publicKey) {
        throw Problem(description: "\(files.publicKey) is missing but the private key exists; restore it from a backup")
      }
    } else {
      guard !fm.fileExists(atPath: files.publicKey) else {
        throw Problem(description: "\(files.publicKey) exists without its private key; refusing to replace it")
      }
      let pair = try TokenAuthority.generateKeyPair()
      try write(files.privateKey, pair.privateKeyPEM)
      try write(files.publicKey, pair.publicKeyPEM)
      try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: files.publicKey)
    }
    if fm.fileExists(atPath: files.masterKey) {
      report.append("kept    \(files.masterKey)")
    } else {
      var bytes = [UInt8](repeating: 0, count: 32)
      var rng = SystemRandomNumberGenerator()
      for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
      try write(files.masterKey, Data(bytes).base64EncodedString() + "\n")
    }
    let authority = try await TokenAuthority(privateKeyPEM: try String(contentsOfFile: files.privateKey, encoding: .utf8))
    for (path, subject, role, ttl) in [
      (files.adminToken, "admin", Role.admin, adminTTL),
      (files.serviceToken, "fixpoint-services", Role.service, TokenClaims.defaultMaxLifetime),
    ] {
      if fm.fileExists(atPath: path) {
        report.append("kept    \(path)")
      } else {
        try write(path, try await authority.issue(subject: subject, role: role, ttl: ttl) + "\n")
      }
    }
    return report
  }
}
