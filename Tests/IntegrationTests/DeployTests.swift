import Foundation
import Testing
import TestSupport

@Suite("Deployment files")
struct DeployTests {
  @Test("Kubernetes manifests validate strictly and carry probes, limits, volumes and secrets; systemd units are hardened")
  func manifests() throws {
    let script = Cluster.root.appendingPathComponent("scripts/check-deploy").path
    let (status, output) = try Cluster.run(try TestPython.interpreter(), [script])
    #expect(status == 0, "\(output)")
    #expect(output.contains("deploy ok"))
  }
}
