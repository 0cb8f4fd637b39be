import FixpointCore
import Foundation
import Testing
import TestSupport

@Suite("Deployment files")
struct DeployTests {
  @Test("Kubernetes manifests validate strictly and carry probes, limits, volumes and secrets; the NetworkPolicies allow exactly the arrows the code declares (ServiceName.peers and .downstream); systemd units are hardened")
  func manifests() async throws {
    let script = Cluster.root.appendingPathComponent("scripts/check-deploy").path
    var arrows: [String: [String]] = [:]
    for callee in ServiceName.allCases {
      arrows[callee.rawValue] = ServiceName.allCases.filter { $0.calls.contains(callee) }.map(\.rawValue).sorted()
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("arrows-\(UUID().uuidString).json")
    try JSONSerialization.data(withJSONObject: arrows).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let (status, output) = try await Cluster.run(try TestPython.interpreter(), [script, "--arrows", file.path])
    #expect(status == 0, "\(output)")
    #expect(output.contains("deploy ok") && output.contains("12 service-to-service arrows allowed (as the code declares)"), "\(output)")
  }
}
