import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Testing

@Suite("Mutual TLS", .serialized)
struct TLSTests {
  @Test("with mTLS on, services call each other over TLS, a client without a certificate is refused, and probes use the health port")
  func mutualTLS() async throws {
    let cluster = try await Cluster(mutualTLS: true, extraArguments: [.notifier: ["--notifier-alert-rules", "finding.submitted:info"]])
    // An event crosses from the dispatcher to the notifier over mTLS.
    let finding = try await cluster.withClient(.dispatcher) {
      try await Fixpoint_V1_RemediationService.Client(wrapping: $0).submitFinding(.with {
        $0.finding = .with { $0.controlID = "EC2.8"; $0.resource = .with { $0.externalID = "arn:aws:ec2:us-east-1:123456789012:instance/i-1" } }
      })
    }
    #expect(try await Cluster.eventually {
      try cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert WHERE subject = ?", arguments: [finding.id]) } == 1
    })
    // Plaintext and TLS-without-a-certificate clients are refused by the main port.
    let tls = try #require(cluster.tls)
    for security in [nil, TLSSettings(certificate: "", privateKey: "", trustRoots: tls.trustRoots, mutual: false)] {
      await #expect(throws: RPCError.self) {
        _ = try await ClientFactory.withClient(address: cluster.address(.notifier), tls: security, token: cluster.adminToken) { client in
          var options = CallOptions.defaults
          options.timeout = .seconds(3)
          return try await Fixpoint_V1_NotifierService.Client(wrapping: client).listAlerts(.init(), options: options)
        }
      }
    }
    // The health-only port answers in plaintext, and serves nothing else.
    let health = PeerAddress("127.0.0.1:\(cluster.healthPort(.notifier))")!
    let status = try await ClientFactory.withClient(address: health, tls: nil, token: "") { client in
      try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init()).status
    }
    #expect(status == .serving)
    await #expect { _ = try await ClientFactory.withClient(address: health, tls: nil, token: cluster.adminToken) { client in
      try await Fixpoint_V1_NotifierService.Client(wrapping: client).listAlerts(.init()) }
    } throws: { ($0 as? RPCError)?.code == .unimplemented }
  }
}
