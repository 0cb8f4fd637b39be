public import Configuration
import Foundation
public import GRDB
public import FixpointProtocol
public import GRPCCore
import GRPCNIOTransportHTTP2Posix
public import Logging
import Prometheus
public import ServiceLifecycle
import Synchronization

/// What a service library hands to the runner: its store, RPC services, role table, what it does
/// with incoming events, and any background work (schedulers). Built by each service's one
/// assembly function, used by the executable, the tests and `fixpoint up` alike.
public struct ServiceComponents: Sendable {
  public var store: Store
  public var services: [any RegistrableRPCService & Sendable]
  public var roleTable: RoleTable
  /// Applied, exactly once per event id, to each event delivered to this service.
  public var eventEffect: EventEffect?
  public var background: [any Service]
  /// The largest request accepted (16 MiB unless a service takes files, as drift does).
  public var maxRequestBytes: Int

  public init(
    store: Store, services: [any RegistrableRPCService & Sendable], roleTable: RoleTable,
    eventEffect: EventEffect? = nil, background: [any Service] = [], maxRequestBytes: Int = 16 << 20
  ) {
    self.store = store
    self.services = services
    self.roleTable = roleTable
    self.eventEffect = eventEffect
    self.background = background
    self.maxRequestBytes = maxRequestBytes
  }
}

/// The things an assembly function may use.
public struct ServiceEnvironment: Sendable {
  public var reader: ConfigReader
  public var settings: ServiceSettings
  public var logger: Logger
}

/// Runs one Fixpoint service: configuration, logging, metrics, auth, store, gRPC server, outbox
/// relay and background work in one ServiceGroup; stops cleanly on SIGTERM and SIGINT.
public enum ServiceRunner {
  /// The entry point every service executable calls from `main`.
  public static func main(
    service: ServiceName, summary: String, settings extra: [SettingDoc],
    build: @escaping @Sendable (ServiceEnvironment) async throws -> ServiceComponents
  ) async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let documented = ServiceSettings.documentation(for: service) + extra
    if arguments.contains("--help") || arguments.contains("-h") {
      print(SettingsLoader.help(program: service.executable, summary: summary, settings: documented))
      return
    }
    if arguments.contains("--version") {
      print("\(service.executable) \(FixpointVersion.current)")
      return
    }
    let unknown = SettingsLoader.unknownFlags(in: arguments, settings: documented)
    guard unknown.isEmpty else {
      FileHandle.standardError.write(Data(
        "\(service.executable): unknown flag\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")); `\(service.executable) --help` lists every key\n".utf8))
      exit(2)
    }
    do {
      try await self.run(service: service, arguments: arguments, build: build)
    } catch {
      FileHandle.standardError.write(Data("\(service.executable): \(error)\n".utf8))
      exit(1)
    }
  }

  static func run(
    service: ServiceName, arguments: [String],
    build: @Sendable (ServiceEnvironment) async throws -> ServiceComponents
  ) async throws {
    let reader = try await SettingsLoader.reader(arguments: arguments)
    let settings = try ServiceSettings(reader: reader, service: service)
    JSONLogHandler.bootstrap(service: service.executable, level: settings.logLevel)
    let logger = Logger(label: service.executable)
    let registry = MetricsEndpoint.bootstrap()
    try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)

    let assembly = try await ServiceAssembly(service: service, reader: reader, settings: settings, logger: logger, build: build)
    let connections = ConnectionLimit(limit: settings.maxConnections, logger: logger)
    let server = GRPCServer(
      transport: HTTP2ServerTransport.Posix(
        address: .ipv4(host: settings.grpcHost, port: settings.grpcPort),
        transportSecurity: try Self.serverSecurity(settings.tls),
        config: .defaults {
          $0.rpc.maxRequestPayloadSize = assembly.components.maxRequestBytes
          $0.connection.maxIdleTime = .seconds(settings.connectionIdleSeconds)
          $0.connection.maxGraceTime = .seconds(min(10, settings.connectionIdleSeconds))
          $0.connection.keepalive.time = .seconds(settings.connectionKeepaliveSeconds)
          $0.connection.keepalive.timeout = .seconds(20)
          $0.channelDebuggingCallbacks.onAcceptTCPConnection = { [limit = settings.handshakeTimeoutSeconds] channel in
            connections.admit(channel)
              ? PrefaceDeadline.install(on: channel, limit: .seconds(Int64(limit))) : channel.eventLoop.makeSucceededVoidFuture()
          }
          $0.channelDebuggingCallbacks.onAcceptHTTP2Stream = { [limit = assembly.components.maxRequestBytes] channel in
            RequestSizeLimit.install(on: channel, limit: limit)
          }
        }),
      services: assembly.rpcServices,
      interceptors: assembly.interceptors)

    // A stop that had to cut RPCs short is not a clean one: the exit status says so (a supervisor may alert).
    let forcedStop: @Sendable () -> Void = { exit(GRPCServerService<HTTP2ServerTransport.Posix>.forcedStopStatus) }
    var services: [any Service] = [
      GRPCServerService(
        server: server, health: assembly.health, grace: settings.shutdownGraceSeconds, logger: logger, graceOver: forcedStop,
        started: { server in
          if let address = try? await server.listeningAddress {
            logger.info("listening", metadata: ["grpc.address": "\(address)", "metrics.port": "\(settings.metricsPort)"])
          }
        })
    ]
    if settings.healthPort != 0 {
      let healthOnly = GRPCServer(
        transport: HTTP2ServerTransport.Posix(
          address: .ipv4(host: settings.grpcHost, port: settings.healthPort), transportSecurity: .plaintext),
        services: [assembly.health])
      services.append(
        GRPCServerService(
          server: healthOnly, health: assembly.health, grace: settings.shutdownGraceSeconds, logger: logger, graceOver: forcedStop,
          started: { _ in }))
    }
    if settings.metricsPort != 0 {
      services.append(MetricsEndpoint(host: settings.grpcHost, port: settings.metricsPort, registry: registry))
    }
    services += assembly.background
    let group = ServiceGroup(
      configuration: .init(
        services: services.map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    logger.info("starting", metadata: ["version": "\(FixpointVersion.current)", "store": "\(settings.databasePath)"])
    try await group.run()
    logger.info("stopped")
  }

  static func serviceNames(_ service: any RegistrableRPCService) -> [String] {
    var router = RPCRouter<HTTP2ServerTransport.Posix>()
    service.registerMethods(with: &router)
    return Array(Set(router.methods.map { $0.service.fullyQualifiedService }))
  }

  static func serverSecurity(_ tls: TLSSettings?) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
    guard let tls else { return .plaintext }
    let chain: [TLSConfig.CertificateSource] = [.file(path: tls.certificate, format: .pem)]
    let key: TLSConfig.PrivateKeySource = .file(path: tls.privateKey, format: .pem)
    guard tls.mutual else { return .tls(certificateChain: chain, privateKey: key) }
    return .mTLS(certificateChain: chain, privateKey: key) { config in
      if !tls.trustRoots.isEmpty { config.trustRoots = .certificates([.file(path: tls.trustRoots, format: .pem)]) }
    }
  }
}

/// The gRPC server as a lifecycle service: serves until graceful shutdown, then stops accepting
/// RPCs, lets in-flight ones finish within `shutdown.grace.seconds`, and calls `graceOver` if
/// any are still open after that (the executable exits non-zero; in process, it is logged).
struct GRPCServerService<Transport: ServerTransport>: Service {
  /// The exit status when the shutdown grace ran out with RPCs still open (EX_SOFTWARE).
  static var forcedStopStatus: Int32 { 70 }
  let server: GRPCServer<Transport>
  let health: HealthService
  let grace: Int
  let logger: Logger
  let graceOver: @Sendable () -> Void
  /// Runs once the server is serving (the executable logs its address).
  let started: @Sendable (GRPCServer<Transport>) async -> Void

  func run() async throws {
    let (server, health, grace, logger, graceOver) = (self.server, self.health, self.grace, self.logger, self.graceOver)
    let started = self.started
    let stopped = StopFlag()
    defer { stopped.value.withLock { $0 = true } }
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        await started(server)
      }
    } onGracefulShutdown: {
      logger.info("shutting down")
      health.markNotServing()
      server.beginGracefulShutdown()
      // Streams such as health Watch never finish on their own; bound the wait.
      DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(grace)) {
        guard !stopped.value.withLock({ $0 }) else { return }
        logger.warning("shutdown grace period over; stopping with RPCs still open")
        graceOver()
      }
    }
  }

  /// Whether the server has stopped: a grace period that ends after it did has nothing to force.
  final class StopFlag: Sendable {
    let value = Mutex(false)
  }
}

/// A service put together from its components: its RPC services with the event sink and health,
/// the interceptors every call passes (bounded errors, metrics, auth, request shape, request
/// log), and the work beside the server (the outbox relay, then the service's own background
/// services). `ServiceRunner` serves it over HTTP/2; `InProcessService` on grpc-swift's
/// in-process transport, so tests can run the real assembly without a child process.
public struct ServiceAssembly: Sendable {
  public let components: ServiceComponents
  public let rpcServices: [any RegistrableRPCService & Sendable]
  public let interceptors: [any ServerInterceptor]
  public let background: [any Service]
  let health: HealthService

  public init(
    service: ServiceName, reader: ConfigReader, settings: ServiceSettings, logger: Logger,
    build: @Sendable (ServiceEnvironment) async throws -> ServiceComponents
  ) async throws {
    guard let publicKey = try? String(contentsOfFile: settings.publicKeyPath, encoding: .utf8) else {
      throw SettingsError.invalid(
        key: "auth.public.key", reason: "cannot read \(settings.publicKeyPath); run `fixpoint init` first")
    }
    let authority = try await TokenAuthority(publicKeyPEM: publicKey, maxLifetime: TimeInterval(settings.tokenMaxDays) * 86_400)
    let serviceToken = TokenFile(path: settings.serviceTokenPath)
    if serviceToken.current().isEmpty && !service.downstream.isEmpty {
      throw SettingsError.invalid(
        key: "auth.service.token", reason: "cannot read \(settings.serviceTokenPath); events could not be delivered")
    }
    // The peers would refuse a token this service's own rules refuse: say so at start, not in
    // every relay attempt.
    if !serviceToken.current().isEmpty {
      do {
        _ = try await authority.verify(serviceToken.current())
      } catch {
        throw SettingsError.invalid(
          key: "auth.service.token",
          reason: "\(settings.serviceTokenPath): \(error); run `fixpoint token rotate-service --data-dir \(settings.dataDirectory)`")
      }
    }

    let components = try await build(ServiceEnvironment(reader: reader, settings: settings, logger: logger))
    var rpcServices = components.services
    if let effect = components.eventEffect {
      rpcServices.append(EventSinkService(store: components.store, logger: logger, effect: effect))
    }
    let health = HealthService(services: rpcServices.flatMap(ServiceRunner.serviceNames))
    rpcServices.append(health)
    self.components = components
    self.rpcServices = rpcServices
    self.health = health
    self.interceptors = [
      BoundedErrorInterceptor(), MetricsInterceptor(), AuthInterceptor(authority: authority, table: components.roleTable),
      RequestShapeInterceptor(),
      RequestLogInterceptor(logger: logger),
    ]
    self.background = [OutboxRelay(store: components.store, settings: settings, token: serviceToken, logger: logger)] + components.background
  }
}

/// The version every executable reports.
public enum FixpointVersion {
  public static let current = "0.1.0"
}
