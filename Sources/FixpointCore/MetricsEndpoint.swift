import Foundation
public import Logging
public import GRPCCore
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus text format) from a registry, on plain HTTP.
public struct MetricsEndpoint: Service {
  let host: String
  let port: Int
  let registry: PrometheusCollectorRegistry

  public init(host: String, port: Int, registry: PrometheusCollectorRegistry) {
    self.host = host
    self.port = port
    self.registry = registry
  }

  /// Bootstraps swift-metrics with Prometheus for the process and returns its registry.
  public static func bootstrap() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
  }

  public func run() async throws {
    let registry = self.registry
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap {
          channel.pipeline.addHandler(MetricsHTTPHandler(registry: registry))
        }
      }
      .bind(host: self.host, port: self.port).get()
    try? await gracefulShutdown()
    try await channel.close()
  }
}

private final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart
  let registry: PrometheusCollectorRegistry
  private var path = ""

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch self.unwrapInboundIn(data) {
    case .head(let head): self.path = head.uri
    case .body: break
    case .end:
      let found = self.path == "/metrics"
      let body = found ? self.registry.emitToBuffer() : Array("not found\n".utf8)
      var headers = HTTPHeaders()
      headers.add(name: "content-type", value: found ? "text/plain; version=0.0.4" : "text/plain")
      headers.add(name: "content-length", value: "\(body.count)")
      context.write(self.wrapOutboundOut(.head(.init(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
      context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
      context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }
  }
}

/// Counts every RPC by method and status code, and records its latency
/// (`fixpoint_rpc_requests_total`, `fixpoint_rpc_duration_seconds`).
public struct MetricsInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let start = ContinuousClock.now
    let method = context.descriptor.fullyQualifiedMethod
    func record(_ code: String) {
      Counter(label: "fixpoint_rpc_requests_total", dimensions: [("method", method), ("code", code)]).increment()
      Metrics.Timer(label: "fixpoint_rpc_duration_seconds", dimensions: [("method", method)])
        .recordInterval(since: start)
    }
    do {
      let response = try await next(request, context)
      switch response.accepted {
      case .success: record("ok")
      case .failure(let error): record("\(error.code)")
      }
      return response
    } catch let error as RPCError {
      record("\(error.code)")
      throw error
    } catch let error as any Error & RPCErrorConvertible {
      record("\(error.rpcErrorCode)")
      throw error
    } catch {
      record("unknown")
      throw error
    }
  }
}

extension Metrics.Timer {
  fileprivate func recordInterval(since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    self.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
  }
}

/// Logs every RPC that passed authentication, at debug level, with its method, outcome, caller and
/// duration. Runs inside the request context, so the line carries the request id.
public struct RequestLogInterceptor: ServerInterceptor {
  let logger: Logger

  public init(logger: Logger) { self.logger = logger }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let start = ContinuousClock.now
    var code = "ok"
    defer {
      let elapsed = ContinuousClock.now - start
      self.logger.debug(
        "rpc handled",
        metadata: [
          "rpc.method": "\(context.descriptor.fullyQualifiedMethod)", "rpc.code": "\(code)",
          "caller": "\(RequestContext.current?.principal?.subject ?? "-")",
          "duration.ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
        ])
    }
    do {
      let response = try await next(request, context)
      if case .failure(let error) = response.accepted { code = "\(error.code)" }
      return response
    } catch let error as RPCError {
      code = "\(error.code)"
      throw error
    } catch let error as any Error & RPCErrorConvertible {
      code = "\(error.rpcErrorCode)"
      throw error
    }
  }
}
