import Foundation
public import GRPCCore
public import GRPCInProcessTransport
import Logging
import ServiceLifecycle

/// A service's real assembly served on grpc-swift's in-process transport: the same RPC services,
/// interceptors (auth included), store, outbox relay and background services as the executable,
/// in a ServiceGroup of its own, without a process or a port. For tests of policy and lifecycle
/// that need the service, not the network between services.
///
///     let service = try await InProcessService.start(.dispatcher, arguments: ["--data-dir", dir], build: RemediationApp.build)
///     let policy = try await Fixpoint_V1_RemediationService.Client(wrapping: service.client).getPolicy(.init(), metadata: …)
///     try await service.stop()
public final class InProcessService: Sendable {
  public let assembly: ServiceAssembly
  /// A client on the in-process transport; calls carry their own token, as over the network.
  public let client: GRPCClient<InProcessTransport.Client>
  private let group: ServiceGroup
  private let running: Task<Void, any Error>
  private let connections: Task<Void, any Error>

  private init(
    assembly: ServiceAssembly, client: GRPCClient<InProcessTransport.Client>, group: ServiceGroup, running: Task<Void, any Error>,
    connections: Task<Void, any Error>
  ) {
    (self.assembly, self.client, self.group, self.running, self.connections) = (assembly, client, group, running, connections)
  }

  /// Builds `service` from `arguments` (as its executable reads them: `--data-dir`, settings) and starts it.
  public static func start(
    _ service: ServiceName, arguments: [String], build: @escaping @Sendable (ServiceEnvironment) async throws -> ServiceComponents
  ) async throws -> InProcessService {
    let reader = try await SettingsLoader.reader(arguments: arguments)
    let settings = try ServiceSettings(reader: reader, service: service)
    // The test process's log handler, at the service's configured level.
    var logger = Logger(label: service.executable)
    logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
    try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
    let assembly = try await ServiceAssembly(service: service, reader: reader, settings: settings, logger: logger, build: build)
    let transport = InProcessTransport()
    let server = GRPCServer(transport: transport.server, services: assembly.rpcServices, interceptors: assembly.interceptors)
    // In a test process a forced stop is reported, never an exit.
    let served = GRPCServerService(
      server: server, health: assembly.health, grace: settings.shutdownGraceSeconds, logger: logger, graceOver: {}, started: { _ in })
    let group = ServiceGroup(
      configuration: .init(services: ([served] + assembly.background).map { .init(service: $0) }, logger: logger))
    let client = GRPCClient(transport: transport.client)
    let connections = Task { try await client.runConnections() }
    let running = Task { try await group.run() }
    return InProcessService(assembly: assembly, client: client, group: group, running: running, connections: connections)
  }

  /// Stops as SIGTERM stops the executable: the server drains, then every background service
  /// ends; returns when all have.
  public func stop() async throws {
    await self.group.triggerGracefulShutdown()
    try await self.running.value
    self.client.beginGracefulShutdown()
    try await self.connections.value
  }
}
