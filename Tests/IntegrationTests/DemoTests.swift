import FixpointCore
import Foundation
import GRDB
import TestSupport
import Testing

/// Issue 16: `fixpoint demo --exit` end to end, its outcome read back from the emulator (boto3)
/// and from the stores the demo left, never from what the demo printed.
@Suite("Demo", .serialized)
struct DemoTests {
  @Test("fixpoint demo --exit: every seeded misconfiguration is fixed in the emulator but the one tagged auto_remediate=false, the rolled-back group has its rules again, the drift is reverted, bob approved and alice could not, a signed webhook and an email arrived, everything it started is stopped")
  func demo() async throws {
    let moto = try await MotoServer()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fixpoint-demo-\(UUID().uuidString.prefix(8))").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let offset = try Self.freePortOffset()
    let python = try TestPython.interpreter()
    let started = ContinuousClock.now
    let (status, output) = try await Cluster.run(Cluster.binDir + "/fixpoint", [
      "demo", "--exit", "--endpoint", moto.endpoint, "--data-dir", dir, "--port-offset", "\(offset)", "--python", python,
    ])
    try #require(status == 0, "\(output.suffix(4000))")
    print("demo took \(ContinuousClock.now - started)")

    // The emulator, read with boto3.
    let (readStatus, read, readError) = try await runCommand([python, Cluster.root.appendingPathComponent("scripts/lib/demo_estate.py").path, "read", moto.endpoint])
    try #require(readStatus == 0, "\(readError)")
    let state = try #require(try JSONSerialization.jsonObject(with: Data(read.utf8)) as? [String: [String: Any]])
    for (region, short) in [("us-east-1", "use1"), ("eu-west-1", "euw1")] {
      let r = try #require(state[region])
      let buckets = r["buckets"] as? [String: [String: Any]] ?? [:]
      #expect(buckets["demo-\(short)-public-assets"]?["public_access_blocked"] as? Bool == true, "\(region) public bucket")
      #expect(buckets["demo-\(short)-unencrypted-logs"]?["encryption"] as? String == "aws:kms", "\(region) unencrypted bucket")
      #expect(r["instances"] as? [String: String] == ["demo-\(short)-imdsv1": "required", "demo-\(short)-compliant": "required"])
      let db = (r["databases"] as? [String: [String: Any]] ?? [:])["demo-\(short)-db-public"] ?? [:]
      #expect(db["public"] as? Bool == false && (db["backup_days"] as? Int ?? 0) >= 7, "\(region) database: \(db)")
      let keys = r["kms_keys"] as? [String: Bool] ?? [:]
      #expect(keys.count == 2 && !keys.values.contains(false), "\(region) keys: \(keys)")
      let groups = (r["security_groups"] as? [String: [String: Any]] ?? [:]).values.reduce(into: [String: [Int]]()) {
        $0[$1["name"] as? String ?? ""] = $1["open_ports"] as? [Int]
      }
      // us-east-1's admin group is the one the demo rolled back; the drifted twin is fixed again.
      #expect(groups["demo-\(short)-web-admin-open"] == (region == "us-east-1" ? [22, 443, 3389] : [443]), "\(region): \(groups)")
      #expect(groups["demo-\(short)-web"] == [443], "\(region): \(groups)")
    }
    let east = state["us-east-1"]?["buckets"] as? [String: [String: Any]] ?? [:]
    #expect(east["demo-use1-prod-ledger"]?["encryption"] as? String == "aws:kms", "env=prod, approved by bob")
    #expect(east["demo-use1-legacy-exports"]?["encryption"] is NSNull || east["demo-use1-legacy-exports"]?["encryption"] == nil,
            "auto_remediate=false was left alone: \(east["demo-use1-legacy-exports"] ?? [:])")

    // The dispatcher's store: one action waits for a human, bob approved, alice approved nothing.
    var config = Configuration()
    config.readonly = true
    let dispatcher = try DatabaseQueue(path: "\(dir)/remediation-dispatcher.sqlite", configuration: config)
    try await dispatcher.read { db in
      let waiting = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM action WHERE state = 2") ?? 0
      let failed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM action WHERE state = 6") ?? 0
      let approvers = try String.fetchAll(db, sql: "SELECT DISTINCT actor FROM audit WHERE to_state = 'approved' AND role = 'approver'")
      #expect(waiting == 1 && failed == 0, "\(waiting) waiting, \(failed) failed")
      #expect(approvers == ["bob"], "\(approvers)")
    }
    // The receivers' records: a webhook whose signature standardwebhooks verified, an email.
    let hooks = ((try? String(contentsOfFile: dir + "/webhooks.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
      .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    #expect(!hooks.isEmpty && hooks.allSatisfy { !(($0["verified"] as? [Any]) ?? []).isEmpty }, "\(hooks.count) webhooks")
    #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir + "/mail/new")) ?? []).count >= 1)
    // --exit stopped everything it started.
    let (_, left, _) = try await runCommand(["pgrep", "-f", "--", "--data-dir \(dir)"])
    #expect(left.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "still running: \(left)")
  }

  /// An offset putting the demo's gRPC ports (7101–7105 + offset) in 30000–30999 and its metrics
  /// ports (9101–9105 + offset) in 32000–32999, both clear of the other tests' ranges.
  static func freePortOffset() throws -> Int {
    for base in stride(from: 30_000, to: 30_700, by: 5) {
      let offset = base - 7_101
      if (0..<5).allSatisfy({ LoopbackPorts.canBind(7_101 + offset + $0) && LoopbackPorts.canBind(9_101 + offset + $0) }) { return offset }
    }
    throw ClusterError("no free ports for the demo")
  }
}
