import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import TestSupport
import Testing

extension AWSFixture {
  func drift<R: Sendable>(
    token: String? = nil, _ body: @Sendable (Fixpoint_V1_DriftService.Client<HTTP2ClientTransport.Posix>) async throws -> R
  ) async throws -> R {
    try await self.cluster.withClient(.drift, token: token) { try await body(Fixpoint_V1_DriftService.Client(wrapping: $0)) }
  }

  /// Changes (or reverts) seed.py's resources with boto3 behind Fixpoint's back.
  func driftChanges(_ mode: String) async throws -> [String: String] {
    let (status, out, err) = try await runCommand([
      try TestPython.interpreter(), Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/drift_changes.py").path,
      self.moto.endpoint, Self.region, mode,
    ])
    guard status == 0 else { throw ClusterError("drift_changes.py \(mode): \(err)") }
    return try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: String]
  }
}

@Suite("drift from baselines against moto", .serialized)
struct DriftTests {
  /// Open drifts as drift's SQLite file holds them: resource name → (kind, control, paths).
  struct Open: Equatable, CustomStringConvertible {
    var kind: Int
    var control: String
    var paths: [String]
    var description: String { "kind \(self.kind) \(self.control) \(self.paths)" }
  }

  static func open(_ f: AWSFixture, names: [String: String]) throws -> [String: Open] {
    try f.cluster.query(.drift) { db in
      var out: [String: Open] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT resource_id, kind, control_id, differences FROM drift WHERE open_key IS NOT NULL") {
        let paths = (try JSONSerialization.jsonObject(with: Data((row["differences"] as String).utf8)) as! [[String: Any]]).map { $0["path"] as! String }
        out[names[row["resource_id"]] ?? row["resource_id"]] = Open(kind: row["kind"], control: row["control_id"], paths: paths)
      }
      return out
    }
  }

  @Test("boto3 changes behind Fixpoint's back become exactly the expected drifts, reach the dispatcher as fixable findings, and resolve when reverted")
  func baselineDrift() async throws {
    // Compliance's own assessment would raise the same (resource, control) findings: kept out, so
    // the findings seen here are drift's.
    let f = try await AWSFixture.make(complianceArguments: ["--compliance-assess-after-sync", "false"])
    let resources = try await f.resources()
    let names = Dictionary(uniqueKeysWithValues: resources.map { ($0.id, $0.name) })
    let id = { (name: String) in resources.first { $0.name == name }!.id }
    #expect(try Self.open(f, names: names).isEmpty, "a first sync is its own baseline")

    _ = try await f.driftChanges("change")
    // One resource, before any sync: the scan asks inventory to read it from the cloud first.
    let env = CLITests.environment(f.cluster)
    let (scanned, scanOutput) = try await Cluster.run(CLITests.fixpoint, ["drift", "scan", "--resource", id("fp-imdsv2"), "--wait"], environment: env)
    #expect(scanned == 3, "a drift found exits 3: \(scanOutput)")
    let scannedOne = try Self.open(f, names: names)
    #expect(scannedOne.keys.sorted() == ["fp-imdsv2"], "only the scanned resource: \(scannedOne)")
    let job = try await f.sync()
    #expect(job.progress.state == .succeeded)
    // inventory's resource.changed events reach drift, which compares the changed resources.
    let security = Fixpoint_V1_Drift.Kind.security.rawValue, configuration = Fixpoint_V1_Drift.Kind.configuration.rawValue
    let expectedPaths: [String: [String]] = [
      "fp-private-https": ["cidr_ipv4", "description", "from_port", "protocol", "to_port"].map { "ingress[tcp 22-22 0.0.0.0/0].\($0)" },
      "fp-compliant-bucket": ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"].map { "public_access_block.\($0)" },
      "fp-good-bucket": ["tags.env"],
      "fp-imdsv2": ["metadata_options.http_tokens"],
    ]
    var drifts: [String: Open] = [:]
    _ = try await Cluster.eventually(timeout: 30) {
      drifts = try Self.open(f, names: names)
      return drifts.count >= expectedPaths.count
    }
    #expect(Set(drifts.keys) == Set(expectedPaths.keys), "exactly the changed resources drift; the re-added RDP rule does not: \(drifts)")
    for (name, paths) in expectedPaths { #expect(drifts[name]?.paths == paths, "\(name): \(drifts[name].map(\.description) ?? "none")") }
    #expect(drifts["fp-compliant-bucket"]?.kind == security && drifts["fp-compliant-bucket"]?.control == "S3.8")
    #expect(drifts["fp-imdsv2"]?.kind == security && drifts["fp-imdsv2"]?.control == "EC2.8")
    #expect(drifts["fp-private-https"]?.kind == security && drifts["fp-private-https"]?.control.hasPrefix("EC2.") == true)
    #expect(drifts["fp-good-bucket"]?.kind == configuration && drifts["fp-good-bucket"]?.control == "")

    // A scan of everything finds the same drifts and makes no second row for any of them.
    let run = try await f.drift { d in
      var run = try await d.runScan(.with { $0.requestID = "scan-1"; $0.all = true })
      let deadline = Date().addingTimeInterval(60)
      while [.queued, .running].contains(run.progress.state) && Date() < deadline {
        try await Task.sleep(for: .milliseconds(100))
        run = try await d.getJobRun(.with { $0.jobID = run.id })
      }
      return run
    }
    #expect(run.progress.state == .succeeded && run.driftsFound == 0, "nothing new: \(run)")
    #expect(run.progress.counters["resources_seen"] == Int64(resources.count))
    let rows = try f.cluster.query(.drift) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM drift") }
    #expect(rows == expectedPaths.count, "one drift per resource")

    // The security drifts reach the dispatcher as findings its handlers match.
    let imdsDrift = try f.cluster.query(.drift) { try String.fetchOne($0, sql: "SELECT id FROM drift WHERE resource_id = ?", arguments: [id("fp-imdsv2")]) }!
    var finding: Row?
    _ = try await Cluster.eventually(timeout: 15) {
      finding = try f.cluster.query(.dispatcher) { try Row.fetchOne($0, sql: "SELECT id, control_id, status FROM finding WHERE source = 'drift' AND source_ref = ?", arguments: [imdsDrift]) }
      return finding != nil
    }
    #expect(finding?["control_id"] as String? == "EC2.8")
    let findingID: String = try #require(finding)["id"]
    let action = try await f.cluster.withClient(.dispatcher) {
      try await Fixpoint_V1_RemediationService.Client(wrapping: $0).suggestAction(.with { $0.requestID = "suggest-drift"; $0.findingID = findingID })
    }
    #expect(!action.handler.isEmpty)
    let configurationFinding = try f.cluster.query(.dispatcher) {
      try String.fetchOne($0, sql: "SELECT finding_type FROM finding WHERE source = 'drift' AND resource_id = ?", arguments: [id("fp-good-bucket")])
    }
    #expect(configurationFinding == "drift/configuration", "a configuration drift is recorded without a control")

    // The operator's view: the differences side by side.
    let (shown, showOutput) = try await Cluster.run(CLITests.fixpoint, ["drifts", "show", imdsDrift], environment: env)
    #expect(shown == 0 && showOutput.contains("metadata_options.http_tokens") && showOutput.contains("\"required\"") && showOutput.contains("\"optional\""), "\(showOutput)")
    let (listed, listOutput) = try await Cluster.run(CLITests.fixpoint, ["drifts", "list", "--kind", "security", "--output", "json"], environment: env)
    let listedDrifts = try JSONSerialization.jsonObject(with: Data(listOutput.utf8)) as? [[String: Any]]
    #expect(listed == 0 && listedDrifts?.count == 3, "\(listOutput)")

    // The operator's status changes, with history.
    let investigated = try await f.drift { d in
      try await d.updateDriftStatus(.with { $0.requestID = "inv-1"; $0.driftID = imdsDrift; $0.status = .investigating; $0.comment = "asking the owner" })
    }
    #expect(investigated.status == .investigating && investigated.history.map(\.event) == ["detected", "investigating"], "\(investigated)")
    await #expect { _ = try await f.drift { d in try await d.updateDriftStatus(.with { $0.driftID = imdsDrift; $0.status = .resolved }) } } throws: {
      ($0 as? RPCError)?.code == .invalidArgument
    }

    // Accepting a change: a new baseline of the retagged bucket resolves its drift (inventory's
    // baseline.captured), with no scan asked for.
    let bucketDrift = try f.cluster.query(.drift) { try String.fetchOne($0, sql: "SELECT id FROM drift WHERE resource_id = ?", arguments: [id("fp-good-bucket")]) }!
    let bucketID = id("fp-good-bucket")
    _ = try await f.inventory { try await $0.captureBaseline(.with { $0.requestID = "accept-tag"; $0.resourceID = bucketID; $0.comment = "staging now" }) }
    _ = try await Cluster.eventually(timeout: 15) { try Self.open(f, names: names)["fp-good-bucket"] == nil }
    let accepted = try f.cluster.query(.drift) { try Row.fetchOne($0, sql: "SELECT status, comment FROM drift WHERE id = ?", arguments: [bucketDrift]) }
    #expect(accepted?["status"] as Int? == Fixpoint_V1_Drift.Status.resolved.rawValue && (accepted?["comment"] as String?)?.contains("matches baseline") == true)

    // Put everything back: the drifts resolve by themselves, and their findings with them; the
    // bucket, whose baseline now says staging, drifts back the other way.
    _ = try await f.driftChanges("revert")
    #expect(try await f.sync().progress.state == .succeeded)
    _ = try await Cluster.eventually(timeout: 30) { try Self.open(f, names: names).keys.sorted() == ["fp-good-bucket"] }
    let left = try Self.open(f, names: names)
    #expect(left.keys.sorted() == ["fp-good-bucket"] && left["fp-good-bucket"]?.paths == ["tags.env"], "reverted: \(left)")
    let history = try f.cluster.query(.drift) {
      try String.fetchAll($0, sql: "SELECT event FROM drift_change WHERE drift_id = ? ORDER BY seq", arguments: [imdsDrift])
    }
    #expect(history == ["detected", "investigating", "resolved"], "\(history)")
    _ = try await Cluster.eventually(timeout: 15) {
      try f.cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT status FROM finding WHERE id = ?", arguments: [findingID]) } == Fixpoint_V1_Finding.Status.resolved.rawValue
    }
    let status = try f.cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT status FROM finding WHERE id = ?", arguments: [findingID]) }
    #expect(status == Fixpoint_V1_Finding.Status.resolved.rawValue, "drift.resolved resolves the finding")
  }

  @Test("a configuration drift is reverted to its baseline by the generic handler: tier 3, approved by another user, applied and verified in moto, rolled back")
  func revertToBaseline() async throws {
    let f = try await AWSFixture.make(
      dispatcherArguments: ["--dispatcher-change-windows", #"[{"cron": "* * * * *", "duration_seconds": 3600, "time_zone": "UTC"}]"#],
      complianceArguments: ["--compliance-assess-after-sync", "false"])
    let bucket = try #require(try await f.resources().first { $0.name == "fp-good-bucket" })
    let tags = { () async throws -> [String: String] in
      let script = "import boto3,sys,json\nprint(json.dumps({t['Key']: t['Value'] for t in boto3.client('s3',endpoint_url=sys.argv[1],region_name='us-east-1',"
        + "aws_access_key_id='AKIAFIXPOINTSEED0001',aws_secret_access_key='x').get_bucket_tagging(Bucket='fp-good-bucket')['TagSet']}))"
      let (status, out, err) = try await runCommand([try TestPython.interpreter(), "-c", script, f.moto.endpoint])
      guard status == 0 else { throw ClusterError(err) }
      return try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: String]
    }
    let original = try await tags()
    _ = try await f.driftChanges("change")
    #expect(try await f.sync().progress.state == .succeeded)
    var findingID: String?
    _ = try await Cluster.eventually(timeout: 30) {
      findingID = try f.cluster.query(.dispatcher) {
        try String.fetchOne($0, sql: "SELECT id FROM finding WHERE source = 'drift' AND finding_type = 'drift/configuration' AND resource_id = ?", arguments: [bucket.id])
      }
      return findingID != nil
    }
    let finding = try #require(findingID)
    let action = try await f.dispatcher { try await $0.suggestAction(.with { $0.requestID = "revert-1"; $0.findingID = finding }) }
    #expect(action.handler == "RevertToBaseline" && action.tier == .t3ChangeWindow && action.requiresApproval)
    #expect(action.changeSet.operations.map(\.path) == ["tags"] && action.plannedDiff.map(\.path).allSatisfy { $0.hasPrefix("tags") }, "\(action.plannedDiff)")
    // The requester cannot approve it; another user can.
    await #expect(performing: { _ = try await f.dispatcher { try await $0.approveAction(.with { $0.actionID = action.id }) } }, throws: {
      ($0 as? RPCError)?.code == .permissionDenied
    })
    let waiting = try f.cluster.query(.dispatcher) { try Int.fetchOne($0, sql: "SELECT state FROM action WHERE id = ?", arguments: [action.id]) }
    #expect(waiting == Fixpoint_V1_ActionState.pendingApproval.rawValue, "still waiting for another user")
    let approver = try await f.cluster.token(role: .approver, subject: "bob")
    _ = try await f.dispatcher(token: approver) { try await $0.approveAction(.with { $0.actionID = action.id; $0.comment = "put it back" }) }
    let done = try await f.dispatcher { try await $0.executeAction(.with { $0.actionIds = [action.id] }).actions[0] }
    #expect(done.state == .completed, "\(done.failureReason)")
    #expect(try await tags() == original, "moto holds the baseline's tags again")
    let rolled = try await f.dispatcher { try await $0.rollbackAction(.with { $0.actionID = action.id; $0.comment = "the staging tag was right" }) }
    #expect(rolled.state == .rolledBack)
    #expect(try await tags() == ["env": "staging"], "the rollback restores the drifted value")
  }
}
