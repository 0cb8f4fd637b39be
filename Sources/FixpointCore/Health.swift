public import FixpointProtocol
public import GRPCCore
import Synchronization

/// `grpc.health.v1.Health`: SERVING for the empty name and for every service this server hosts.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol, Sendable {
  /// The fully qualified name of the health service, open to callers without a token.
  public static let serviceName = "grpc.health.v1.Health"

  private let statuses: Mutex<[String: Grpc_Health_V1_HealthCheckResponse.ServingStatus]>

  /// `services` are the fully qualified names this server hosts.
  public init(services: [String]) {
    var all: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus] = ["": .serving]
    for s in services { all[s] = .serving }
    self.statuses = Mutex(all)
  }

  /// Marks every service NOT_SERVING, e.g. while shutting down.
  public func markNotServing() {
    self.statuses.withLock { s in for key in s.keys { s[key] = .notServing } }
  }

  public func check(
    request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = self.statuses.withLock({ $0[request.service] }) else {
      throw RPCError(code: .notFound, message: "unknown service \(request.service)")
    }
    return .with { $0.status = status }
  }

  public func list(
    request: Grpc_Health_V1_HealthListRequest, context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthListResponse {
    let all = self.statuses.withLock { $0 }
    return .with { response in
      for (name, status) in all { response.statuses[name] = .with { $0.status = status } }
    }
  }

  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
    while !context.cancellation.isCancelled {
      let status = self.statuses.withLock { $0[request.service] } ?? .serviceUnknown
      if status != last {
        try await response.write(.with { $0.status = status })
        last = status
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }
}
