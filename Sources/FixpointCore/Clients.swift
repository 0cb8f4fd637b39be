import Foundation
import Synchronization
public import GRPCCore
public import GRPCNIOTransportHTTP2Posix
public import ServiceLifecycle

/// A token kept in a file, read again at most every 2 s: the services' own token is rotated in
/// place (`fixpoint token rotate-service`) well before its 30 days run out, and a running service
/// picks the new one up without a restart. The file is read rather than its modification time
/// compared, since a Kubernetes Secret volume swaps a symlink above the file and leaves the
/// file's own link untouched.
public final class TokenFile: Sendable {
  public let path: String
  private let state = Mutex<(token: String, read: ContinuousClock.Instant?)>(("", nil))

  public init(path: String) { self.path = path }

  /// The file's token ("" when it cannot be read).
  public func current() -> String {
    self.state.withLock { state in
      let now = ContinuousClock.now
      if let read = state.read, now - read < .seconds(2) { return state.token }
      state.read = now
      state.token = ((try? String(contentsOfFile: self.path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
      return state.token
    }
  }
}

/// Adds the bearer token and propagates the current request id on every outgoing call.
public struct ClientCredentialsInterceptor: ClientInterceptor {
  let token: @Sendable () -> String

  public init(token: String) { self.token = { token } }

  public init(tokenFile: TokenFile) { self.token = { tokenFile.current() } }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    let token = self.token()
    if !token.isEmpty, request.metadata[stringValues: "authorization"].first(where: { _ in true }) == nil {
      request.metadata.addString("Bearer \(token)", forKey: "authorization")
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
    try self.makeClient(address: address, tls: tls, credentials: ClientCredentialsInterceptor(token: token))
  }

  /// A client whose calls carry `credentials`; with `callTimeout`, a call not answered within it
  /// fails with DEADLINE_EXCEEDED unless the caller set its own timeout.
  public static func makeClient(
    address: PeerAddress, tls: TLSSettings?, credentials: ClientCredentialsInterceptor, callTimeout: Duration? = nil
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
    let defaults = callTimeout.map { ServiceConfig(methodConfig: [MethodConfig(names: [MethodConfig.Name(service: "")], timeout: $0)]) }
    let transport = try HTTP2ClientTransport.Posix(
      target: target, transportSecurity: security,
      config: .defaults { $0.backoff.max = .seconds(5) }, serviceConfig: defaults ?? ServiceConfig())
    return GRPCClient(transport: transport, interceptors: [credentials])
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
  ///
  /// No call waits longer than `peer.call.timeout.seconds` for its answer (unless the caller sets
  /// its own): a peer that stops answering (inventory once did, every thread blocked) must not hold
  /// an execution, a scan or a planning turn for ever. The caller sees DEADLINE_EXCEEDED, which the
  /// dispatcher treats as an outage: the action pauses and resumes, and inventory keeps each change
  /// request's answer, so nothing is applied twice.
  public func peerClient(_ peer: ServiceName) throws -> (GRPCClient<HTTP2ClientTransport.Posix>, ClientConnections) {
    guard self.settings.service.peers.contains(peer) else {
      throw SettingsError.invalid(key: "\(peer.key).addr", reason: "\(self.settings.service.rawValue) does not call \(peer.rawValue) (ServiceName.peers)")
    }
    guard let text = self.settings.peers[peer], let address = PeerAddress(text) else {
      throw SettingsError.invalid(key: "\(peer.key).addr", reason: "no address for \(peer.rawValue)")
    }
    let token = TokenFile(path: self.settings.serviceTokenPath)
    guard !token.current().isEmpty else {
      throw SettingsError.invalid(key: "auth.service.token", reason: "cannot read \(self.settings.serviceTokenPath)")
    }
    let client = try ClientFactory.makeClient(
      address: address, tls: self.settings.tls, credentials: ClientCredentialsInterceptor(tokenFile: token),
      callTimeout: .seconds(self.settings.peerCallTimeoutSeconds))
    return (client, ClientConnections(client))
  }
}
