import Compliance
import Drift
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import Inventory
import Notifier
import Remediation
import Testing

/// Every RPC of every service, through the real `AuthInterceptor`, with every role and with bad tokens.
@Suite("Role table")
struct RoleTableTests {
  struct ServiceCase: Sendable, CustomTestStringConvertible {
    var name: String
    var table: RoleTable
    var methods: [MethodDescriptor]
    var testDescription: String { self.name }
  }

  static let sink = Fixpoint_V1_EventSink.Method.descriptors
  static let cases: [ServiceCase] = [
    .init(name: "inventory", table: InventoryApp.roleTable, methods: Fixpoint_V1_InventoryService.Method.descriptors),
    .init(name: "drift", table: DriftApp.roleTable, methods: Fixpoint_V1_DriftService.Method.descriptors + sink),
    .init(name: "compliance", table: ComplianceApp.roleTable, methods: Fixpoint_V1_ComplianceService.Method.descriptors + sink),
    .init(name: "remediation-dispatcher", table: RemediationApp.roleTable, methods: Fixpoint_V1_RemediationService.Method.descriptors + sink),
    .init(name: "notifier", table: NotifierApp.roleTable, methods: Fixpoint_V1_NotifierService.Method.descriptors + sink),
  ]

  static let keys = try! TokenAuthority.generateKeyPair()
  static let otherKeys = try! TokenAuthority.generateKeyPair()

  /// Runs the interceptor for `method` with `authorization` and reports how it ended.
  static func call(_ method: MethodDescriptor, table: RoleTable, authorization: String?) async throws -> RPCError.Code? {
    let authority = try await TokenAuthority(publicKeyPEM: Self.keys.publicKeyPEM)
    let interceptor = AuthInterceptor(authority: authority, table: table)
    var metadata: Metadata = [:]
    if let authorization { metadata.addString(authorization, forKey: "authorization") }
    let request = StreamingServerRequest<Int>(metadata: metadata, messages: RPCAsyncSequence(wrapping: AsyncThrowingStream { $0.finish() }))
    return try await withServerContextRPCCancellationHandle { handle in
      let context = ServerContext(descriptor: method, remotePeer: "test", localPeer: "test", cancellation: handle)
      do {
        _ = try await interceptor.intercept(request: request, context: context) { _, _ -> StreamingServerResponse<Int> in
          #expect(RequestContext.current?.principal != nil || table.isOpen(method), "the handler sees the caller")
          return StreamingServerResponse(single: ServerResponse(message: 1))
        }
        return nil
      } catch let error as RPCError {
        return error.code
      }
    }
  }

  @Test("every RPC has a rule, and only the roles in it reach the handler", arguments: cases)
  func everyRoleOnEveryRPC(service: ServiceCase) async throws {
    let signer = try await TokenAuthority(privateKeyPEM: Self.keys.privateKeyPEM)
    for method in service.methods {
      let admitted = service.table.roles(for: method)
      #expect(!admitted.isEmpty, "\(method) has no rule")
      #expect(admitted.contains(.admin) || admitted == [.service], "\(method): admin is refused")
      for role in Role.allCases {
        let token = try await signer.issue(subject: "tester", role: role, ttl: 60)
        let outcome = try await Self.call(method, table: service.table, authorization: "Bearer \(token)")
        if admitted.contains(role) {
          #expect(outcome == nil, "\(role) should reach \(method)")
        } else {
          #expect(outcome == .permissionDenied, "\(role) should be refused \(method)")
        }
      }
    }
  }

  @Test("no token, a malformed header, an expired token and a foreign key are unauthenticated", arguments: cases)
  func badTokens(service: ServiceCase) async throws {
    let signer = try await TokenAuthority(privateKeyPEM: Self.keys.privateKeyPEM)
    let foreign = try await TokenAuthority(privateKeyPEM: Self.otherKeys.privateKeyPEM)
    let expired = try await signer.issue(subject: "tester", role: .admin, ttl: 60, now: Date().addingTimeInterval(-3600))
    let foreignToken = try await foreign.issue(subject: "tester", role: .admin, ttl: 60)
    let valid = try await signer.issue(subject: "tester", role: .admin, ttl: 60)
    let tampered = String(valid.dropLast(4)) + "AAAA"
    for method in service.methods {
      for header in [nil, "Basic abc", "Bearer", "Bearer \(expired)", "Bearer \(foreignToken)", "Bearer \(tampered)", "Bearer not.a.jwt"] {
        let outcome = try await Self.call(method, table: service.table, authorization: header)
        #expect(outcome == .unauthenticated, "\(method) with \(header?.prefix(12) ?? "nil")")
      }
    }
  }

  @Test("a token verified once is remembered only until it expires, and only byte for byte")
  func verifiedTokensExpire() async throws {
    let signer = try await TokenAuthority(privateKeyPEM: Self.keys.privateKeyPEM)
    let verifier = try await TokenAuthority(publicKeyPEM: Self.keys.publicKeyPEM)
    let token = try await signer.issue(subject: "tester", role: .operator, ttl: 2)  // exp has whole seconds: valid for at least 1 s
    #expect(try await verifier.verify(token) == Principal(subject: "tester", role: .operator))
    #expect(try await verifier.verify(token) == Principal(subject: "tester", role: .operator))
    await #expect(throws: TokenError.self) { try await verifier.verify(String(token.dropLast(4)) + "AAAA") }
    try await Task.sleep(for: .milliseconds(2100))
    await #expect(throws: TokenError.invalid("expired, not yet valid, too long-lived, or not for Fixpoint")) { try await verifier.verify(token) }
  }

  @Test("a token issued in the future, or expiring further ahead than the longest lifetime, is refused; one within both verifies")
  func tokenTimeBounds() async throws {
    let signer = try await TokenAuthority(privateKeyPEM: Self.keys.privateKeyPEM)
    let verifier = try await TokenAuthority(publicKeyPEM: Self.keys.publicKeyPEM)
    let refused = TokenError.invalid("expired, not yet valid, too long-lived, or not for Fixpoint")
    let future = try await signer.issue(subject: "t", role: .viewer, ttl: 7200, now: Date().addingTimeInterval(3600))
    await #expect(throws: refused) { try await verifier.verify(future) }
    let forever = try await signer.issue(subject: "t", role: .viewer, ttl: 1_000_000 * 86_400)
    await #expect(throws: TokenError.invalid("expires more than 30 days ahead (auth.token.max.days)")) { try await verifier.verify(forever) }
    // auth.token.max.days, 30 unless configured: the services' own token too (it was 10 years).
    let decade = try await signer.issue(subject: "fixpoint-services", role: .service, ttl: 3650 * 86_400)
    let tooLong = TokenError.invalid("expires more than 30 days ahead (auth.token.max.days)")
    await #expect(throws: tooLong) { try await verifier.verify(decade) }
    await #expect(throws: tooLong) { try await verifier.verify(try await signer.issue(subject: "t", role: .admin, ttl: 31 * 86_400)) }
    let month = try await signer.issue(subject: "fixpoint-services", role: .service, ttl: 30 * 86_400 - 60)
    #expect(try await verifier.verify(month) == Principal(subject: "fixpoint-services", role: .service))
    let lenient = try await TokenAuthority(publicKeyPEM: Self.keys.publicKeyPEM, maxLifetime: 90 * 86_400)
    let quarter = try await signer.issue(subject: "t", role: .viewer, ttl: 80 * 86_400)
    #expect(try await lenient.verify(quarter) == Principal(subject: "t", role: .viewer))
    let skewed = try await signer.issue(subject: "t", role: .viewer, ttl: 600, now: Date().addingTimeInterval(60))
    #expect(try await verifier.verify(skewed) == Principal(subject: "t", role: .viewer))
  }

  @Test("health is open without a token")
  func healthIsOpen() async throws {
    for method in Grpc_Health_V1_Health.Method.descriptors {
      #expect(try await Self.call(method, table: InventoryApp.roleTable, authorization: nil) == nil)
    }
  }

  @Test("a method missing from the table is refused even to admin")
  func unknownMethodDenied() async throws {
    let signer = try await TokenAuthority(privateKeyPEM: Self.keys.privateKeyPEM)
    let token = try await signer.issue(subject: "tester", role: .admin, ttl: 60)
    let method = MethodDescriptor(fullyQualifiedService: "fixpoint.v1.InventoryService", method: "DropEverything")
    #expect(try await Self.call(method, table: InventoryApp.roleTable, authorization: "Bearer \(token)") == .permissionDenied)
  }
}
