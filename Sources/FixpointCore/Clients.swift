import Foundation
public import GRPCCore
public import GRPCNIOTransportHTTP2Posix
public import ServiceLifecycle

/// Adds the bearer token and propagates the current request id on every outgoing call.
public struct ClientCredentialsInterceptor: ClientInterceptor {
  public let token: String

  public init(token: String) { self.token = token }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    if !self.token.isEmpty, request.metadata[stringValues: "authorization"].first(where: { _ in true }) == nil {
      request.metadata.addString("Bearer \(self.token)", forKey: "authorization")
    }
    if let requestID = RequestContext.current?.requestID,
      request.metadata[stringValues: RequestContext.metadataKey].first(where: { _ in true }) == nil
    {
      request.metadata.addString(requestID, forKey: RequestContext.metadataKey)
    }
    return try await next(request, context)
  }
}

/// Makes gRPC clients to Fixpoint services, in plaintext or (m)TLS.
public enum ClientFactory {
  /// A client to `address`; run `client.runConnections()` in a task while using it.
  public static func makeClient(
    address: PeerAddress, tls: TLSSettings?, token: String
  ) throws -> GRPCClient<HTTP2ClientTransport.Posix> {
    let security: HTTP2ClientTransport.Posix.TransportSecurity
    if let tls {
      let roots: TLSConfig.TrustRootsSource =
        tls.trustRoots.isEmpty ? .systemDefault : .certificates([.file(path: tls.trustRoots, format: .pem)])
      if tls.mutual {
        security = .mTLS(
          certificateChain: [.file(path: tls.certificate, format: .pem)],
          privateKey: .file(path: tls.privateKey, format: .pem)
        ) { $0.trustRoots = roots }
      } else {
        security = .tls { $0.trustRoots = roots }
      }
    } else {
      security = .plaintext
    }
    let target: any ResolvableTarget =
      address.host.allSatisfy({ $0.isNumber || $0 == "." })
      ? .ipv4(address: address.host, port: address.port) : .dns(host: address.host, port: address.port)
    let transport = try HTTP2ClientTransport.Posix(
      target: target, transportSecurity: security,
      config: .defaults { $0.backoff.max = .seconds(5) })
    return GRPCClient(transport: transport, interceptors: [ClientCredentialsInterceptor(token: token)])
  }

  /// Runs `body` with a connected client to `address` and shuts it down afterwards.
  public static func withClient<R: Sendable>(
    address: PeerAddress, tls: TLSSettings?, token: String,
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R
  ) async throws -> R {
    let client = try self.makeClient(address: address, tls: tls, token: token)
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await client.runConnections() }
      defer {
        client.beginGracefulShutdown()
      }
      return try await body(client)
    }
  }
}

/// Runs a long-lived client's connections inside the service group; shuts them down gracefully.
public struct ClientConnections: Service {
  let client: GRPCClient<HTTP2ClientTransport.Posix>

  public init(_ client: GRPCClient<HTTP2ClientTransport.Posix>) { self.client = client }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await self.client.runConnections()
    } onGracefulShutdown: {
      self.client.beginGracefulShutdown()
    }
  }
}

extension ServiceEnvironment {
  /// A client of `peer` (its configured address, this service's TLS and service token), and the
  /// service that keeps its connections: put that in `ServiceComponents.background`.
  public func peerClient(_ peer: ServiceName) throws -> (GRPCClient<HTTP2ClientTransport.Posix>, ClientConnections) {
    guard let text = self.settings.peers[peer], let address = PeerAddress(text) else {
      throw SettingsError.invalid(key: "\(peer.key).addr", reason: "no address for \(peer.rawValue)")
    }
    let token = (try? String(contentsOfFile: self.settings.serviceTokenPath, encoding: .utf8))?
      .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    guard !token.isEmpty else {
      throw SettingsError.invalid(key: "auth.service.token", reason: "cannot read \(self.settings.serviceTokenPath)")
    }
    let client = try ClientFactory.makeClient(address: address, tls: self.settings.tls, token: token)
    return (client, ClientConnections(client))
  }
}
