import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Remediation
import Testing

/// A service's real assembly on grpc-swift's in-process transport: policy and lifecycle checks
/// without child processes or ports.
@Suite("Assemblies in process")
struct InProcessTests {
  @Test("the dispatcher in process: auth refuses a missing token and a viewer's UpdatePolicy; two concurrent UpdatePolicy calls on different fields both hold, served and stored; a graceful stop ends the server and every background service")
  func dispatcherPolicy() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fp-inprocess-\(UUID())").path
    let keys = KeyFiles(dataDirectory: dir)
    try FileManager.default.createDirectory(atPath: keys.directory, withIntermediateDirectories: true)
    let pair = try TokenAuthority.generateKeyPair()
    try pair.publicKeyPEM.write(toFile: keys.publicKey, atomically: true, encoding: .utf8)
    let signer = try await TokenAuthority(privateKeyPEM: pair.privateKeyPEM)
    try await signer.issue(subject: "dispatcher", role: .service, ttl: 3600).write(toFile: keys.serviceToken, atomically: true, encoding: .utf8)
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
