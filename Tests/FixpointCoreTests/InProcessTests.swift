import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Compliance
import Drift
import Inventory
import Notifier
import Remediation
import Testing

/// A service's real assembly on grpc-swift's in-process transport: policy and lifecycle checks
/// without child processes or ports.
@Suite("Assemblies in process")
struct InProcessTests {
  /// A data directory as `fixpoint init` leaves it, and a signer for test tokens.
  static func dataDirectory() async throws -> (String, TokenAuthority) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fp-inprocess-\(UUID())").path
    _ = try await KeyFiles.initialize(dataDirectory: dir)
    let signer = try await TokenAuthority(privateKeyPEM: try String(contentsOfFile: KeyFiles(dataDirectory: dir).privateKey, encoding: .utf8))
    return (dir, signer)
  }

  @Test("every service's assembly starts in process in a data directory made as `fixpoint init` makes it, answers health as serving, and stops gracefully within 10 s",
        arguments: [
          (ServiceName.inventory, InventoryApp.build), (.drift, DriftApp.build), (.compliance, ComplianceApp.build),
          (.dispatcher, RemediationApp.build), (.notifier, NotifierApp.build),
        ] as [(ServiceName, @Sendable (ServiceEnvironment) async throws -> ServiceComponents)])
  func lifecycle(service: ServiceName, build: @escaping @Sendable (ServiceEnvironment) async throws -> ServiceComponents) async throws {
    let (dir, _) = try await Self.dataDirectory()
    let running = try await InProcessService.start(service, arguments: ["--data-dir", dir, "--log-level", "error"], build: build)
    let health = Grpc_Health_V1_Health.Client(wrapping: running.client)
    let answer = try await health.check(.init())
    #expect(answer.status == .serving)
    let started = ContinuousClock.now
    try await running.stop()
    #expect(ContinuousClock.now - started < .seconds(10), "\(service.rawValue) stopped in \(ContinuousClock.now - started)")
    #expect(FileManager.default.fileExists(atPath: "\(dir)/\(service.rawValue).sqlite"), "its store is a real file")
  }

  @Test("the dispatcher in process: auth refuses a missing token and a viewer's UpdatePolicy; two concurrent UpdatePolicy calls on different fields both hold, served and stored; a graceful stop ends the server and every background service")
  func dispatcherPolicy() async throws {
    let (dir, signer) = try await Self.dataDirectory()
    func bearer(_ role: Role) async throws -> Metadata { ["authorization": "Bearer \(try await signer.issue(subject: "t-\(role)", role: role, ttl: 600))"] }
    let (admin, viewer) = (try await bearer(.admin), try await bearer(.viewer))

    let service = try await InProcessService.start(
      .dispatcher, arguments: ["--data-dir", dir, "--log-level", "error"], build: RemediationApp.build)
    let dispatcher = Fixpoint_V1_RemediationService.Client(wrapping: service.client)

    await #expect { _ = try await dispatcher.getPolicy(.init()) } throws: { ($0 as? RPCError)?.code == .unauthenticated }
    await #expect { _ = try await dispatcher.updatePolicy(.with { $0.updateMask = ["approval_ttl_seconds"] }, metadata: viewer) } throws: {
      ($0 as? RPCError)?.code == .permissionDenied
    }
    // Ten rounds of two updates of different fields at once: both hold, in memory and in the file.
    let stored = service.assembly.components.store.path
    for round in 1...10 {
      async let ttl = dispatcher.updatePolicy(
        .with { $0.updateMask = ["approval_ttl_seconds"]; $0.policy.approvalTtlSeconds = Int64(3600 + round) }, metadata: admin)
      async let count = dispatcher.updatePolicy(
        .with { $0.updateMask = ["blast_radius_max_count"]; $0.policy.blastRadiusMaxCount = Int32(100 + round) }, metadata: admin)
      _ = try await (ttl, count)
      let served = try await dispatcher.getPolicy(.init(), metadata: admin)
      var readOnly = Configuration()
      readOnly.readonly = true
      let file = try await DatabaseQueue(path: stored, configuration: readOnly).read { db in
        try Fixpoint_V1_Policy(serializedBytes: try #require(try Data.fetchOne(db, sql: "SELECT message FROM policy WHERE id = 1")))
      }
      for policy in [served, file] {
        #expect(policy.approvalTtlSeconds == Int64(3600 + round) && policy.blastRadiusMaxCount == Int32(100 + round), "round \(round): \(policy)")
      }
    }

    let started = ContinuousClock.now
    try await service.stop()
    #expect(ContinuousClock.now - started < .seconds(10), "a graceful stop ends everything promptly")
    await #expect(throws: (any Error).self) { _ = try await dispatcher.getPolicy(.init(), metadata: admin) }
  }
}
