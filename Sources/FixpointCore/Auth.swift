public import Foundation
public import GRPCCore
public import JWTKit
import Synchronization

/// The roles a token can carry. Each RPC names the roles it admits (see `RoleTable`).
public enum Role: String, CaseIterable, Sendable, Codable {
  /// Reads everything, changes nothing.
  case viewer
  /// Runs the day-to-day: syncs, scans, suggestions, execution of approved actions.
  case `operator`
  /// Approves or rejects actions (never their own).
  case approver
  /// Everything, including policy, providers and channels.
  case admin
  /// Another Fixpoint service: event delivery and inventory's change RPCs.
  case service
}

/// The authenticated caller of an RPC.
public struct Principal: Sendable, Equatable {
  public var subject: String
  public var role: Role
  public init(subject: String, role: Role) {
    self.subject = subject
    self.role = role
  }
}

/// The claims of a Fixpoint token: `sub`, `role`, `iat`, `exp`, `iss` and a unique `jti`.
public struct TokenClaims: JWTPayload, Equatable {
  public var sub: SubjectClaim
  public var role: String
  public var iat: IssuedAtClaim
  public var exp: ExpirationClaim
  public var iss: IssuerClaim
  public var jti: IDClaim

  public static let issuer = "fixpoint"
  /// The furthest ahead a token may expire unless `auth.token.max.days` says otherwise, for
  /// people's and the services' tokens alike (a token valid until the year 33658 was accepted);
  /// also the longest lifetime `fixpoint token issue` gives.
  public static let defaultMaxLifetime: TimeInterval = 30 * 86_400
  /// How far in the future `iat` may lie (clock skew between machines).
  public static let clockSkew: TimeInterval = 300

  public func verify(using algorithm: some JWTAlgorithm) async throws {
    try self.exp.verifyNotExpired()
    let now = Date()
    guard self.iat.value <= now.addingTimeInterval(Self.clockSkew) else {
      throw JWTError.claimVerificationFailure(failedClaim: self.iat, reason: "issued in the future")
    }
    guard self.iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: self.iss, reason: "unknown issuer") }
    guard Role(rawValue: self.role) != nil else { throw JWTError.claimVerificationFailure(failedClaim: self.iss, reason: "unknown role") }
  }
}

/// Why a token was refused. Never includes the token itself.
public enum TokenError: Error, Equatable, CustomStringConvertible {
  case missing
  case malformed
  case invalid(String)

  public var description: String {
    switch self {
    case .missing: "missing bearer token"
    case .malformed: "authorization header is not 'Bearer <token>'"
    case .invalid(let why): "invalid token: \(why)"
    }
  }
}

/// Signs (with the private key) and verifies (with the public key) Fixpoint tokens: EdDSA JWTs.
public struct TokenAuthority: Sendable {
  private let keys: JWTKeyCollection
  private let canSign: Bool
  private let verified = VerifiedTokens(capacity: 4096)
  /// The furthest ahead an accepted token may expire (`auth.token.max.days`).
  public let maxLifetime: TimeInterval

  /// A verifier only: services hold the public key.
  public init(publicKeyPEM: String, maxLifetime: TimeInterval = TokenClaims.defaultMaxLifetime) async throws {
    self.keys = JWTKeyCollection()
    await self.keys.add(eddsa: try EdDSA.PublicKey(pem: publicKeyPEM))
    self.canSign = false
    self.maxLifetime = maxLifetime
  }

  /// A signer and verifier: the CLI holds the private key.
  public init(privateKeyPEM: String, maxLifetime: TimeInterval = TokenClaims.defaultMaxLifetime) async throws {
    self.keys = JWTKeyCollection()
    await self.keys.add(eddsa: try EdDSA.PrivateKey(pem: privateKeyPEM))
    self.canSign = true
    self.maxLifetime = maxLifetime
  }

  /// A new Ed25519 key pair, PEM encoded.
  public static func generateKeyPair() throws -> (privateKeyPEM: String, publicKeyPEM: String) {
    let key = try EdDSA.PrivateKey(curve: .ed25519)
    return (key.pemRepresentation, key.publicKey.pemRepresentation)
  }

  /// Signs a token for `subject` with `role`, valid for `ttl` seconds from now.
  public func issue(subject: String, role: Role, ttl: TimeInterval, now: Date = Date()) async throws -> String {
    precondition(self.canSign, "issue needs the private key")
    let claims = TokenClaims(
      sub: .init(value: subject), role: role.rawValue, iat: .init(value: now),
      exp: .init(value: now.addingTimeInterval(ttl)), iss: .init(value: TokenClaims.issuer),
      jti: .init(value: RandomID.make(24)))
    return try await self.keys.sign(claims)
  }

  /// Verifies a token's signature, expiry, issuer and role. A token that verified before is
  /// answered from memory until its expiry, so a client reusing its token pays for one signature
  /// check rather than one per call.
  public func verify(_ token: String) async throws(TokenError) -> Principal {
    if let hit = self.verified.lookup(token, now: Date()) { return hit }
    do {
      let claims = try await self.keys.verify(token, as: TokenClaims.self)
      guard claims.exp.value <= Date().addingTimeInterval(self.maxLifetime) else {
        throw TokenError.invalid("expires more than \(Int(self.maxLifetime / 86_400)) days ahead (auth.token.max.days)")
      }
      guard let role = Role(rawValue: claims.role) else { throw TokenError.invalid("unknown role") }
      guard !claims.sub.value.isEmpty else { throw TokenError.invalid("empty subject") }
      let principal = Principal(subject: claims.sub.value, role: role)
      self.verified.insert(token, principal, expires: claims.exp.value)
      return principal
    } catch let error as TokenError {
      throw error
    } catch let error as JWTError {
      switch error.errorType {
      case .claimVerificationFailure: throw TokenError.invalid("expired, not yet valid, too long-lived, or not for Fixpoint")
      case .signatureVerificationFailed: throw TokenError.invalid("signature does not verify")
      default: throw TokenError.invalid("cannot be decoded")
      }
    } catch {
      throw TokenError.invalid("cannot be decoded")
    }
  }

  /// When `token` expires, if it verifies here (any lifetime); nil if it does not.
  public func expiry(of token: String) async -> Date? {
    try? await self.keys.verify(token, as: TokenClaims.self).exp.value
  }

  /// The token in an `authorization` header value.
  public static func bearer(_ header: String?) throws(TokenError) -> String {
    guard let header, !header.isEmpty else { throw .missing }
    let parts = header.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else { throw .malformed }
    return String(parts[1])
  }
}

/// Tokens whose signature and claims verified, kept until they expire. Bounded: when full it
/// starts again empty, which costs a signature check per token and nothing else.
final class VerifiedTokens: Sendable {
  private let entries = Mutex<[String: (principal: Principal, expires: Date)]>([:])
  private let capacity: Int

  init(capacity: Int) { self.capacity = capacity }

  /// The principal of a verified token that has not expired by `now`.
  func lookup(_ token: String, now: Date) -> Principal? {
    self.entries.withLock { entries in
      guard let entry = entries[token] else { return nil }
      guard entry.expires > now else {
        entries[token] = nil
        return nil
      }
      return entry.principal
    }
  }

  func insert(_ token: String, _ principal: Principal, expires: Date) {
    self.entries.withLock { entries in
      if entries.count >= self.capacity { entries.removeAll(keepingCapacity: true) }
      entries[token] = (principal, expires)
    }
  }
}

/// Which roles each RPC admits, one table per service. An RPC missing from the table is refused
/// (deny by default); open methods (health) need no token at all.
public struct RoleTable: Sendable {
  /// Fully qualified method ("fixpoint.v1.InventoryService/ListProviders") → admitted roles.
  public var rules: [String: Set<Role>]
  /// Services whose methods need no token.
  public var openServices: Set<String>

  public init(rules: [String: Set<Role>], openServices: Set<String> = [HealthService.serviceName]) {
    self.rules = rules
    self.openServices = openServices
  }

  /// Role sets most RPCs use.
  public static let readers: Set<Role> = [.viewer, .operator, .approver, .admin, .service]
  public static let operators: Set<Role> = [.operator, .admin, .service]
  public static let approvers: Set<Role> = [.approver, .admin]
  public static let admins: Set<Role> = [.admin]
  public static let services: Set<Role> = [.service]

  /// Adds rules for every method of `service` named in `methods`.
  public mutating func allow(_ roles: Set<Role>, service: String, methods: [String]) {
    for method in methods { self.rules["\(service)/\(method)"] = roles }
  }

  /// Whether `method` is open to anyone.
  public func isOpen(_ method: MethodDescriptor) -> Bool {
    self.openServices.contains(method.service.fullyQualifiedService)
  }

  /// The roles admitted by `method`; empty when the method is unknown to the table.
  public func roles(for method: MethodDescriptor) -> Set<Role> {
    self.rules[method.fullyQualifiedMethod] ?? []
  }
}

/// Checks the bearer token and the caller's role before any handler runs, and sets
/// `RequestContext.current` (principal and request id) for the handler.
public struct AuthInterceptor: ServerInterceptor {
  public let authority: TokenAuthority
  public let table: RoleTable

  public init(authority: TokenAuthority, table: RoleTable) {
    self.authority = authority
    self.table = table
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let requestID = request.metadata[stringValues: RequestContext.metadataKey].first(where: { _ in true })
      .flatMap { $0.count <= 128 ? $0 : nil } ?? RequestContext.newRequestID()
    if self.table.isOpen(context.descriptor) {
      return try await RequestContext.$current.withValue(.init(requestID: requestID, principal: nil)) {
        Self.stamped(try await next(request, context))
      }
    }
    let principal: Principal
    do {
      let header = request.metadata[stringValues: "authorization"].first(where: { _ in true })
      principal = try await self.authority.verify(try TokenAuthority.bearer(header))
    } catch {
      throw RPCError(code: .unauthenticated, message: error.description)
    }
    let admitted = self.table.roles(for: context.descriptor)
    guard admitted.contains(principal.role) else {
      throw RPCError(
        code: .permissionDenied,
        message: "role \(principal.role.rawValue) may not call \(context.descriptor.method)"
          + (admitted.isEmpty ? "" : "; needs one of \(admitted.map(\.rawValue).sorted().joined(separator: ", "))"))
    }
    return try await RequestContext.$current.withValue(.init(requestID: requestID, principal: principal)) {
      Self.stamped(try await next(request, context))
    }
  }

  /// Adds the server's version to the response metadata (`fixpoint-version`), for `fixpoint status`.
  private static func stamped<Output>(_ response: StreamingServerResponse<Output>) -> StreamingServerResponse<Output> {
    var response = response
    if case .success(var contents) = response.accepted {
      contents.metadata.addString(FixpointVersion.current, forKey: "fixpoint-version")
      response.accepted = .success(contents)
    }
    return response
  }
}
