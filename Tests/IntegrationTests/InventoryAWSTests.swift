import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf
import TestSupport
import Testing

/// The real inventory process against a real moto_server, seeded with boto3; every check of
/// what changed in "AWS" is made with boto3 (python/probe.py), never with inventory's readers.
struct AWSFixture: Sendable {
  static let secret = "fixpoint-Test-Secret-8d1f0c"
  static let region = "us-east-1"
  let moto: MotoServer
  let cluster: Cluster
  let seedJSON: String
  var seed: [String: Any] { try! JSONSerialization.jsonObject(with: Data(self.seedJSON.utf8)) as! [String: Any] }
  let providerID: String

  /// moto, the five services, the seed, a connected provider (through `endpoint`, moto by
  /// default) and a finished sync.
  static func make(
    endpoint: ((MotoServer) async throws -> String)? = nil, inventoryArguments: [String] = [], dispatcherArguments: [String] = [],
    complianceArguments: [String] = [], notifierArguments: [String] = []
  ) async throws -> AWSFixture {
    let moto = try await MotoServer()
    let cluster = try await Cluster(
      extraArguments: [
        .inventory: inventoryArguments, .dispatcher: dispatcherArguments, .compliance: complianceArguments, .notifier: notifierArguments,
      ])
    let providerEndpoint = try await endpoint?(moto) ?? moto.endpoint
    let (status, out, err) = try await runCommand([try TestPython.interpreter(), Cluster.root.appendingPathComponent("Tests/CloudAWSTests/python/seed.py").path, moto.endpoint, Self.region])
    guard status == 0 else { throw ClusterError("seed failed: \(err)") }
    let provider = try await cluster.withClient(.inventory) { client in
      try await Fixpoint_V1_InventoryService.Client(wrapping: client).connectProvider(.with {
        $0.requestID = "connect-1"
        $0.kind = .aws
        $0.displayName = "moto"
        $0.regions = [Self.region]
        $0.endpoint = providerEndpoint
        $0.aws = .with { $0.accessKeyID = "AKIAFIXPOINTTEST0001"; $0.secretAccessKey = Self.secret }
      })
    }
    let fixture = AWSFixture(moto: moto, cluster: cluster, seedJSON: out, providerID: provider.id)
    let job = try await fixture.sync()
    guard job.progress.state == .succeeded else { throw ClusterError("sync failed: \(job.progress.message)") }
    return fixture
  }

  func inventory<R: Sendable>(_ body: @Sendable (Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
    try await self.cluster.withClient(.inventory) { try await body(Fixpoint_V1_InventoryService.Client(wrapping: $0)) }
  }

  /// Starts a sync and polls it to the end.
  func sync() async throws -> Fixpoint_V1_SyncJob {
    let providerID = self.providerID
    return try await self.inventory { inventory in
      var job = try await inventory.syncProvider(.with { $0.providerID = providerID })
      let deadline = Date().addingTimeInterval(120)
      while job.progress.state == .running && Date() < deadline {
        try await Task.sleep(for: .milliseconds(100))
        job = try await inventory.getSyncJob(.with { $0.jobID = job.progress.jobID })
      }
      return job
    }
  }

  func resources() async throws -> [Fixpoint_V1_Resource] {
    try await self.inventory { try await $0.listResources(.with { $0.pageSize = 1000 }).resources }
  }

  func resource(_ type: String, _ name: String) async throws -> Fixpoint_V1_Resource {
    guard let r = try await self.resources().first(where: { $0.type == type && $0.name == name }) else {
      throw ClusterError("no \(type) named \(name)")
    }
    return r
  }

  /// boto3's view of everything the setter test touches.
  func probe() async throws -> [String: Any] {
    let (status, out, err) = try await runCommand([try TestPython.interpreter(), Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/probe.py").path, self.moto.endpoint, Self.region])
    guard status == 0 else { throw ClusterError("probe failed: \(err)") }
    return try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
  }
}

func json(_ text: String) -> Google_Protobuf_Value { try! Google_Protobuf_Value(jsonString: text) }

func same(_ a: Any?, _ b: Any?) -> Bool {
  guard let a, let b, !(a is NSNull && b is NSNull) else { return (a == nil || a is NSNull) && (b == nil || b is NSNull) }
  let encode = { (v: Any) -> Data? in try? JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]) }
  return encode(a) == encode(b)
}

@Suite("inventory against moto", .serialized)
struct InventoryAWSTests {
  @Test("connect and sync: what inventory reports matches moto; the secret is nowhere in stores, logs or events")
  func connectAndSync() async throws {
    let f = try await AWSFixture.make()
    let resources = try await f.resources()
    let types = Set(resources.map(\.type))
    #expect(types == ["s3_bucket", "s3_account_public_access_block", "security_group", "ec2_instance", "ebs_volume", "ebs_encryption_default",
                      "vpc", "iam_user", "iam_password_policy", "rds_instance", "cloudtrail_trail", "guardduty_detector", "kms_key",
                      "subnet", "network_acl", "ebs_snapshot", "lambda_function", "cloudtrail_account"])
    let seed = f.seed
    for (id, tokens) in seed["ec2_instance"] as! [String: String] {
      let r = try #require(resources.first { $0.configuration.fields["id"]?.stringValue == id })
      #expect(r.configuration.fields["metadata_options"]?.structValue.fields["http_tokens"]?.stringValue == tokens)
    }
    for (id, encrypted) in seed["ebs_volume"] as! [String: Bool] {
      #expect(resources.first { $0.configuration.fields["id"]?.stringValue == id }?.configuration.fields["encrypted"]?.boolValue == encrypted)
    }
    let stored = try f.cluster.query(.inventory) { db in
      try Row.fetchOne(db, sql: "SELECT account_id, length(sealed_credentials) AS sealed FROM provider WHERE id = ?", arguments: [f.providerID])
    }
    #expect(stored?["account_id"] == "123456789012")
    #expect((stored?["sealed"] as Int?) ?? 0 > 40, "the credentials are stored, sealed")
    // Every new resource got its first baseline; the job counted resources per type.
    let baselines = try f.cluster.query(.inventory) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM baseline WHERE reason = 'first_discovery'") }
    #expect(baselines == resources.count)
    // A second sync finds nothing new; resource.changed events went out once per resource, and
    // reached the notifier, which pages nobody for them.
    let again = try await f.sync()
    #expect(again.created == 0 && again.updated == 0 && again.unchanged == Int64(resources.count))
    #expect(try await Cluster.eventually {
      try f.cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM inbox WHERE event_type = 'resource.changed'") } == resources.count
    })
    #expect(try f.cluster.query(.notifier) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM alert") } == 0)
    // The secret: in no file of the data directory (stores, WALs, logs), so in no event either.
    for file in try FileManager.default.contentsOfDirectory(atPath: f.cluster.dataDir) where !file.hasPrefix("keys") {
      let data = FileManager.default.contents(atPath: "\(f.cluster.dataDir)/\(file)") ?? Data()
      #expect(data.range(of: Data(AWSFixture.secret.utf8)) == nil, "the secret is in \(file)")
    }
    // A resource gone from the cloud is marked deleted on the next sync and kept as history.
    let gone = try #require(resources.first { $0.type == "security_group" && $0.name == "fp-private-https" })
    let delete = "import boto3,sys\nboto3.client('ec2',endpoint_url=sys.argv[1],region_name='us-east-1',aws_access_key_id='AKIAFIXPOINTSEED0001',"
      + "aws_secret_access_key='x').delete_security_group(GroupId=sys.argv[2])"
    let (deleted, _, deleteError) = try await runCommand([try TestPython.interpreter(), "-c", delete, f.moto.endpoint, gone.configuration.fields["id"]?.stringValue ?? ""])
    try #require(deleted == 0, "\(deleteError)")
    let afterDelete = try await f.sync()
    #expect(afterDelete.deleted == 1 && afterDelete.created == 0)
    let stillListed = try await f.inventory { try await $0.getResource(.with { $0.resourceID = gone.id }) }
    #expect(stillListed.status == .deleted)

    // Disconnecting forgets the credentials and keeps the resources.
    _ = try await f.inventory { try await $0.disconnectProvider(.with { $0.providerID = f.providerID }) }
    let after = try f.cluster.query(.inventory) { db in
      (try Row.fetchOne(db, sql: "SELECT status, sealed_credentials FROM provider WHERE id = ?", arguments: [f.providerID]),
       try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resource WHERE provider_id = ?", arguments: [f.providerID]))
    }
    #expect(after.0?["status"] == Fixpoint_V1_Provider.Status.disconnected.rawValue)
    #expect((after.0?["sealed_credentials"] as Data?) == nil)
    #expect(after.1 == resources.count)
    await #expect(throws: RPCError.self) { _ = try await f.sync() }
  }

  @Test("every setter: a dry run changes nothing, apply shows in boto3, a repeat is a no-op, restore brings the snapshot back")
  func setters() async throws {
    let f = try await AWSFixture.make()
    let initial = try await f.probe()
    let keyARN = initial["plain_key_arn"] as! String
    let privateSG = initial["private_sg"] as! String
    let alice = try await f.resource("iam_user", "fp-alice")
    let aliceKey = try #require(alice.configuration.fields["access_keys"]?.structValue.fields.keys.first)
    let loggedVPC = try #require(try await f.resources().first { $0.type == "vpc" && $0.configuration.fields["cidr_block"]?.stringValue == "10.20.0.0/16" })
    let plainVolume = try await f.resource("ebs_volume", "fp-plain-volume")
    let plainKey = try #require(try await f.resources().first { $0.type == "kms_key" && $0.configuration.fields["description"]?.stringValue == "fp not rotated" })
    let adminACL = try await f.resource("network_acl", "fp-admin-acl")
    let publicSnapshot = try await f.resource("ebs_snapshot", "fp-public-snapshot")
    let function = try await f.resource("lambda_function", "fp-public-function")
    let functionARN = initial["function_arn"] as! String

    // (resource, path, value, probe key, what boto3 must read after the change)
    let cases: [(Fixpoint_V1_Resource, String, String, String, Any)] = [
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "encryption", #"{"sse_algorithm":"AES256"}"#, "bucket.encryption", "AES256"),
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "public_access_block.block_public_acls", "true", "bucket.public_access_block", ["BlockPublicAcls"]),
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "policy", "null", "bucket.policy", NSNull()),
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "versioning", #""Enabled""#, "bucket.versioning", "Enabled"),
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "logging", #"{"target_bucket":"fp-trail-logs","target_prefix":"logs/"}"#, "bucket.logging", ["fp-trail-logs", "logs/"]),
      (try await f.resource("s3_bucket", "fp-bad-bucket"), "tags.owner", #""security""#, "bucket.tags", ["owner": "security"]),
      (try await f.resource("s3_account_public_access_block", "account 123456789012"), "public_access_block",
       #"{"block_public_acls":true,"ignore_public_acls":true,"block_public_policy":true,"restrict_public_buckets":true}"#,
       "account.public_access_block", ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]),
      (try await f.resource("security_group", "fp-open-ssh"), "ingress[tcp 22-22 0.0.0.0/0]", "null", "sg", ["ingress": ["tcp 443-443 0.0.0.0/0"], "egress": ["-1 None-None 0.0.0.0/0", "tcp 443-443 10.0.0.0/8"], "tags": ["team": "sec"]]),
      (try await f.resource("security_group", "fp-open-ssh"), "egress[tcp 443-443 10.0.0.0/8]",
       #"{"protocol":"tcp","from_port":443,"to_port":443,"cidr_ipv4":"10.0.0.0/8"}"#, "sg", NSNull()),
      (try await f.resource("security_group", "fp-open-ssh"), "tags.team", #""sec""#, "sg", NSNull()),
      (try await f.resource("ec2_instance", "fp-imdsv1"), "metadata_options.http_tokens", #""required""#, "instance",
       ["tokens": "required", "groups": ["fp-private-https"], "tags": ["Name": "fp-imdsv1", "owner": "ops"]]),
      (try await f.resource("ec2_instance", "fp-imdsv1"), "security_groups", #"["\#(privateSG)"]"#, "instance", NSNull()),
      (try await f.resource("ec2_instance", "fp-imdsv1"), "tags.owner", #""ops""#, "instance", NSNull()),
      (plainVolume, "tags.backup", #""daily""#, "volume.tags", ["backup": "daily"]),
      (try await f.resource("ebs_encryption_default", "EBS default encryption (us-east-1)"), "enabled", "true", "ebs_default", true),
      (loggedVPC, "flow_logs", "{}", "vpc.flow_logs", 0),
      (loggedVPC, "tags.env", #""test""#, "vpc.tags", ["env": "test"]),
      (alice, "access_keys[\(aliceKey)].status", #""Inactive""#, "alice.key", "Inactive"),
      (try await f.resource("iam_password_policy", "password policy"), "policy.minimum_password_length", "14", "password.minimum_length", 14),
      (try await f.resource("rds_instance", "fp-db-bad"), "backup_retention_period", "7", "db", [7, false, true, true]),
      (try await f.resource("rds_instance", "fp-db-bad"), "publicly_accessible", "false", "db", NSNull()),
      (try await f.resource("rds_instance", "fp-db-bad"), "deletion_protection", "true", "db", NSNull()),
      (try await f.resource("rds_instance", "fp-db-bad"), "auto_minor_version_upgrade", "true", "db", NSNull()),
      (try await f.resource("cloudtrail_trail", "fp-bad-trail"), "is_logging", "true", "trail", [true, true, true, keyARN]),
      (try await f.resource("cloudtrail_trail", "fp-bad-trail"), "log_file_validation_enabled", "true", "trail", NSNull()),
      (try await f.resource("cloudtrail_trail", "fp-bad-trail"), "is_multi_region_trail", "true", "trail", NSNull()),
      (try await f.resource("cloudtrail_trail", "fp-bad-trail"), "kms_key_id", #""\#(keyARN)""#, "trail", NSNull()),
      (try await f.resource("guardduty_detector", "GuardDuty (us-east-1)"), "enabled", "true", "guardduty.enabled", true),
      (plainKey, "rotation_enabled", "true", "kms.rotation", true),
      (try await f.resource("subnet", "fp-public-subnet"), "map_public_ip_on_launch", "false", "subnet.public", false),
      (adminACL, "ingress[100]", "null", "acl.ingress", ["110 6 allow 10.0.0.0/8 443", "120 17 deny 10.0.0.0/8 53"]),
      (adminACL, "ingress[110].cidr_ipv4", #""10.0.0.0/8""#, "acl.ingress", NSNull()),
      (adminACL, "ingress[120]", #"{"rule_number":120,"protocol":"udp","rule_action":"deny","from_port":53,"to_port":53,"cidr_ipv4":"10.0.0.0/8"}"#,
       "acl.ingress", NSNull()),
      (publicSnapshot, "create_volume_permission.groups", "[]", "snapshot.permissions", ["user:444455556666"]),
      (publicSnapshot, "create_volume_permission.user_ids", #"["444455556666"]"#, "snapshot.permissions", NSNull()),
      (function, "policy_statements[anyone]", "null", "function.statements", ["s3"]),
      (function, "policy_statements[s3]", #"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","#
        + #""Resource":"\#(functionARN)","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"}}}"#, "function.statements", NSNull()),
      (function, "tags.owner", #""sec""#, "function.tags", ["team": "payments", "owner": "sec"]),
    ]
    @Sendable func changeSet(_ r: Fixpoint_V1_Resource, _ path: String, _ value: String) -> Fixpoint_V1_ChangeSet {
      .with { s in
        s.resource = .with { $0.resourceID = r.id }
        s.operations = [.with { $0.path = path; $0.value = json(value) }]
      }
    }

    // Snapshots first, then dry runs: each shows a diff, boto3 sees nothing changed.
    var snapshots: [String] = []
    for (r, path, value, _, _) in cases {
      let snapshot = try await f.inventory { try await $0.captureSnapshot(.with { $0.resourceID = r.id; $0.paths = [path] }) }
      snapshots.append(snapshot.id)
      let dry = try await f.inventory { try await $0.applyChange(.with { $0.changeSet = changeSet(r, path, value); $0.dryRun = true }) }
      #expect(dry.dryRun && dry.diffs.count == 1 && dry.diffs.first.map { try? DocumentPath($0.path) } == (try? DocumentPath(path)), "\(r.type) \(path): \(dry.diffs)")
    }
    let afterDryRuns = try await f.probe()
    for key in Set(cases.map(\.3)) { #expect(same(afterDryRuns[key], initial[key]), "dry run changed \(key)") }

    // Apply: boto3 reads the new values.
    for (r, path, value, _, _) in cases {
      let applied = try await f.inventory { try await $0.applyChange(.with { $0.requestID = "apply-\(r.id)-\(path)"; $0.changeSet = changeSet(r, path, value) }) }
      #expect(applied.diffs.count == 1, "\(r.type) \(path) applied \(applied.diffs)")
    }
    // The same request id again: the first answer, and no second write.
    let (firstResource, firstPath, firstValue, _, _) = cases[0]
    let retried = try await f.inventory { try await $0.applyChange(.with {
      $0.requestID = "apply-\(firstResource.id)-\(firstPath)"; $0.changeSet = changeSet(firstResource, firstPath, firstValue) }) }
    #expect(retried.diffs.count == 1 && retried.diffs[0].path == firstPath, "the stored answer, not a fresh no-op")
    let applied = try await f.probe()
    for (r, path, _, key, expected) in cases where !(expected is NSNull) {
      #expect(same(applied[key], expected), "\(r.type) \(path): boto3 reads \(applied[key] ?? "nothing"), expected \(expected)")
    }

    // A second apply (new request ids) finds everything in place: no diff, nothing written.
    for (r, path, value, _, _) in cases {
      let repeated = try await f.inventory { try await $0.applyChange(.with { $0.changeSet = changeSet(r, path, value) }) }
      #expect(repeated.diffs.isEmpty, "\(r.type) \(path) not idempotent: \(repeated.diffs)")
    }
    #expect(same(try await f.probe() as Any, applied as Any))

    // Restore every snapshot, newest first: boto3 reads the original values again.
    for id in snapshots.reversed() {
      _ = try await f.inventory { try await $0.restoreSnapshot(.with { $0.snapshotID = id }) }
    }
    var restored = try await f.probe()
    // S3 cannot unversion a bucket: the restore of "Disabled" is "Suspended" (documented).
    #expect(same(restored["bucket.versioning"], "Suspended"))
    restored["bucket.versioning"] = initial["bucket.versioning"]
    for key in Set(cases.map(\.3)) { #expect(same(restored[key], initial[key]), "restore of \(key): \(restored[key] ?? "nil") vs \(initial[key] ?? "nil")") }
  }

  @Test("bad input is refused naming the field, and nothing is written or called")
  func badInput() async throws {
    let proxy = try FaultProxy()
    let f = try await AWSFixture.make(endpoint: { moto in try await proxy.start(upstream: moto.endpoint) })
    let callsBefore = try await proxy.state()["forwarded"] as? Int
    let providersBefore = try f.cluster.query(.inventory) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM provider") }
    func connect(_ edit: @escaping @Sendable (inout Fixpoint_V1_ConnectProviderRequest) -> Void) async -> RPCError? {
      do {
        _ = try await f.inventory { inventory in
          var request = Fixpoint_V1_ConnectProviderRequest.with {
            $0.kind = .aws
            $0.displayName = "another"
            $0.endpoint = "http://127.0.0.1:\(proxy.port)"
            $0.aws = .with { $0.accessKeyID = "AKIAFIXPOINTTEST0002"; $0.secretAccessKey = "s" }
          }
          edit(&request)
          return try await inventory.connectProvider(request)
        }
        return nil
      } catch let error as RPCError { return error } catch { return nil }
    }
    let cases: [(String, @Sendable (inout Fixpoint_V1_ConnectProviderRequest) -> Void)] = [
      ("aws.role_arn", { $0.aws.roleArn = "arn:aws:iam::12345:role/x" }),
      ("aws.role_arn", { $0.aws.roleArn = "arn:aws:s3:::bucket" }),
      ("aws.access_key_id", { $0.aws.accessKeyID = "not a key" }),
      ("regions[1]", { $0.regions = ["us-east-1", "mars-north-9x"] }),
      ("endpoint", { $0.endpoint = "ftp://127.0.0.1:1" }),
      ("display_name", { $0.displayName = "" }),
      ("aws.external_id", { $0.aws.externalID = "x" }),
    ]
    for (field, edit) in cases {
      let error = await connect(edit)
      #expect(error?.code == .invalidArgument && error?.message.hasPrefix(field) == true, "\(field): \(String(describing: error))")
    }
    #expect(try f.cluster.query(.inventory) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM provider") } == providersBefore)

    #expect(try await proxy.state()["forwarded"] as? Int == callsBefore, "no AWS call for a refused connect")
    let bucket = try await f.resource("s3_bucket", "fp-bad-bucket")
    let before = try await f.probe()
    let callsBeforeChanges = try await proxy.state()["forwarded"] as? Int
    let bad: [(String, String, String)] = [
      ("nonsense", "true", "no changeable field 'nonsense'"),
      ("encryption..x", "true", "is not a document path"),
      ("versioning", #""Off""#, "must be one of"),
      ("encryption", #"{"sse_algorithm":"AES256","kms_key_id":"k"}"#, "only with aws:kms"),
      ("public_access_block.block_everything", "true", "is not a field"),
      ("tags.owner", "42", "must be a string"),
    ]
    for (path, value, reason) in bad {
      do {
        _ = try await f.inventory { try await $0.applyChange(.with { s in
          s.changeSet = .with { $0.resource = .with { $0.resourceID = bucket.id }; $0.operations = [.with { $0.path = path; $0.value = json(value) }] }
        }) }
        Issue.record("\(path) = \(value) was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message.contains(reason) && error.message.contains("change_set.operations"), "\(path): \(error.message)")
      }
    }
    // A write limit is both fields or neither, bounded.
    for (key, limit, field) in [("tier", UInt32(0), "write_limit"), ("", 5, "write_limit"), ("tier", 1001, "write_limit"), (String(repeating: "k", count: 101), 1, "write_limit_key")] {
      do {
        _ = try await f.inventory { try await $0.applyChange(.with { s in
          s.requestID = "bad-limit"
          s.changeSet = .with { $0.resource = .with { $0.resourceID = bucket.id }; $0.operations = [.with { $0.path = "encryption"; $0.value = json(#"{"sse_algorithm":"AES256"}"#) }] }
          (s.writeLimitKey, s.writeLimit) = (key, limit)
        }) }
        Issue.record("write limit \(key.prefix(8)) / \(limit) was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message.hasPrefix(field), "\(field): \(error.message)")
      }
    }
    #expect(try await proxy.state()["forwarded"] as? Int == callsBeforeChanges, "no AWS call for a refused change")
    #expect(same(try await f.probe() as Any, before as Any), "nothing changed in AWS")
    await #expect(throws: RPCError.self) { _ = try await f.inventory { try await $0.syncProvider(.with { $0.providerID = f.providerID; $0.types = ["s3_buckets"] }) } }
    await #expect(throws: RPCError.self) { _ = try await f.inventory { try await $0.listResources(.with { $0.type = "S3 Bucket!" }) } }
  }

  @Test("throttling from every protocol is retried with jittered backoff: sync and apply finish within the bounds")
  func throttling() async throws {
    let proxy = try FaultProxy()
    let capMS = 400
    let f = try await AWSFixture.make(
      endpoint: { moto in try await proxy.start(upstream: moto.endpoint) },
      inventoryArguments: ["--inventory-aws-backoff-cap-ms", "\(capMS)", "--inventory-aws-max-attempts", "10"])
    func fault(_ count: Int) async throws -> [String: Int] {
      let state = count < 0 ? try await proxy.state() : try await proxy.throttle(count)
      return state.compactMapValues { $0 as? Int }
    }
    let calmStart = ContinuousClock.now
    let calm = try await f.sync()
    let calmElapsed = ContinuousClock.now - calmStart
    let faults = 40
    _ = try await fault(faults)
    let start = ContinuousClock.now
    let throttled = try await f.sync()
    let elapsed = ContinuousClock.now - start
    #expect(throttled.progress.state == .succeeded, "\(throttled.progress.message)")
    #expect(throttled.unchanged == calm.unchanged && throttled.deleted == 0, "nothing looked deleted because of throttling")
    #expect(try await fault(-1)["served"] == faults)
    // Each throttled try waits at most the cap; even if they all fell on one call in turn, the
    // sync cannot take longer than the faults' waits plus a calm sync (with room for a busy machine).
    #expect(elapsed < .milliseconds(faults * capMS) + calmElapsed * 3 + .seconds(5), "took \(elapsed); a calm sync took \(calmElapsed)")

    let bucket = try await f.resource("s3_bucket", "fp-bad-bucket")
    _ = try await fault(3)
    let applied = try await f.inventory { try await $0.applyChange(.with { s in
      s.changeSet = .with { $0.resource = .with { $0.resourceID = bucket.id }; $0.operations = [.with { $0.path = "versioning"; $0.value = json(#""Enabled""#) }] }
    }) }
    #expect(applied.diffs.count == 1)
    #expect(try await fault(-1)["served"] == faults + 3)
    #expect(same(try await f.probe()["bucket.versioning"], "Enabled"))
  }

  /// moto keeps each account's state apart and answers for the account that issued the keys, so a
  /// role in another account proves the calls carried the assumed role's credentials.
  @Test("a provider connected through AssumeRole (role ARN and external id) discovers with the role's credentials")
  func assumeRole() async throws {
    let f = try await AWSFixture.make()
    let provider = try await f.inventory { try await $0.connectProvider(.with {
      $0.kind = .aws
      $0.displayName = "through a role"
      $0.endpoint = f.moto.endpoint
      $0.regions = [AWSFixture.region]
      $0.aws = .with {
        $0.accessKeyID = "AKIAFIXPOINTTEST0003"
        $0.secretAccessKey = AWSFixture.secret
        $0.roleArn = "arn:aws:iam::111122223333:role/fixpoint-audit"
        $0.externalID = "fixpoint-ext-1"
      }
    }) }
    #expect(provider.roleArn == "arn:aws:iam::111122223333:role/fixpoint-audit" && provider.accountID == "111122223333")
    let job = try await f.inventory { inventory in
      var job = try await inventory.syncProvider(.with { $0.providerID = provider.id; $0.types = ["s3_bucket", "iam_user"] })
      while job.progress.state == .running {
        try await Task.sleep(for: .milliseconds(100))
        job = try await inventory.getSyncJob(.with { $0.jobID = job.progress.jobID })
      }
      return job
    }
    #expect(job.progress.state == .succeeded, "\(job)")
    // The seed lives in account 123456789012; the role's account has none of it.
    #expect(job.progress.counters["s3_bucket"] == 0 && job.progress.counters["iam_user"] == 0, "\(job.progress.counters)")
  }

  @Test("a provider with a change role: discovery, snapshots and verification are signed with the read role's keys, the change's writes with the change role's; a change role in another account is refused at connect")
  func changeRole() async throws {
    let proxy = try FaultProxy()
    let f = try await AWSFixture.make()
    let endpoint = try await proxy.start(upstream: f.moto.endpoint)
    let (readRole, changeRole) = ("arn:aws:iam::123456789012:role/fixpoint-read", "arn:aws:iam::123456789012:role/fixpoint-change")
    @Sendable func connect(_ name: String, change: String) async throws -> Fixpoint_V1_Provider {
      try await f.inventory { try await $0.connectProvider(.with {
        $0.kind = .aws
        $0.displayName = name
        $0.endpoint = endpoint
        $0.regions = [AWSFixture.region]
        $0.aws = .with {
          $0.accessKeyID = "AKIAFIXPOINTTEST0004"
          $0.secretAccessKey = AWSFixture.secret
          $0.roleArn = readRole
          $0.changeRoleArn = change
          $0.externalID = "fixpoint-ext-2"
        }
      }) }
    }
    await #expect(performing: { _ = try await connect("elsewhere", change: "arn:aws:iam::111122223333:role/fixpoint-change") }, throws: { error in
      (error as? RPCError)?.code == .failedPrecondition && (error as? RPCError)?.message.contains("account 111122223333") == true
    })
    let provider = try await connect("two roles", change: changeRole)
    #expect(provider.roleArn == readRole && provider.changeRoleArn == changeRole)
    let job = try await f.inventory { inventory in
      var job = try await inventory.syncProvider(.with { $0.providerID = provider.id; $0.types = ["s3_bucket"] })
      while job.progress.state == .running {
        try await Task.sleep(for: .milliseconds(100))
        job = try await inventory.getSyncJob(.with { $0.jobID = job.progress.jobID })
      }
      return job
    }
    #expect(job.progress.state == .succeeded, "\(job)")
    let bucket = try #require(try await f.inventory { try await $0.listResources(.with { $0.providerID = provider.id; $0.type = "s3_bucket"; $0.pageSize = 1 }) }.resources.first)
    let applied = try await f.inventory { try await $0.applyChange(.with { r in
      r.requestID = "change-role-1"
      r.changeSet = .with { s in
        s.resource = .with { $0.resourceID = bucket.id }
        s.operations = [.with { $0.path = "tags[fixpoint-change-role]"; $0.value = .init(stringValue: "applied") }]
      }
    }) }
    #expect(applied.diffs.count == 1, "\(applied.diffs)")

    // Who signed what, as the proxy saw it: every S3 write with the change role's keys, and
    // the reads (discovery, the fresh read before the change, verification) with the read role's.
    let state = try await proxy.state()
    let assumed = state["assumed"] as? [String: String] ?? [:]
    let byKey = state["s3_by_key"] as? [String: [String: Int]] ?? [:]
    func role(_ key: String) -> String { assumed[key] ?? "keys \(key)" }
    let writers = Set(byKey.filter { ($0.value["writes"] ?? 0) > 0 }.keys.map(role))
    let readers = Set(byKey.filter { ($0.value["reads"] ?? 0) > 0 }.keys.map(role))
    #expect(writers == [changeRole], "S3 writes signed by \(writers)")
    #expect(readers == [readRole], "S3 reads signed by \(readers)")
    #expect(Set(assumed.values).isSuperset(of: [readRole, changeRole]), "\(assumed)")
  }

  @Test("the CLI connects, syncs with progress, lists, shows and baselines resources")
  func cli() async throws {
    let f = try await AWSFixture.make()
    var env = CLITests.environment(f.cluster)
    env["AWS_ACCESS_KEY_ID"] = "AKIAFIXPOINTTEST0004"
    env["AWS_SECRET_ACCESS_KEY"] = AWSFixture.secret
    let fixpoint = CLITests.fixpoint
    let (code, connected) = try await Cluster.run(fixpoint, ["provider", "connect", "aws", "--name", "cli", "--endpoint", f.moto.endpoint, "--output", "json"], environment: env)
    #expect(code == 0, "\(connected)")
    #expect(!connected.contains(AWSFixture.secret))
    let id = try #require(try CLITests.json(connected).first?["id"] as? String)
    let (synced, syncOutput) = try await Cluster.run(fixpoint, ["provider", "sync", id, "--types", "s3_bucket,security_group"], environment: env)
    #expect(synced == 0, "\(syncOutput)")
    #expect(syncOutput.contains("syncing:") && syncOutput.contains("succeeded"), "progress, then the result")
    let (_, listed) = try await Cluster.run(fixpoint, ["resource", "list", "--provider", id, "--type", "s3_bucket", "--output", "json"], environment: env)
    let buckets = try CLITests.json(listed)
    #expect(Set(buckets.compactMap { $0["name"] as? String })
      == ["fp-bad-bucket", "fp-good-bucket", "fp-trail-logs", "fp-compliant-bucket", "fp-public-write-bucket"])
    let good = try #require(buckets.first { $0["name"] as? String == "fp-good-bucket" }?["id"] as? String)
    let (_, shown) = try await Cluster.run(fixpoint, ["resource", "show", good], environment: env)
    #expect(shown.contains("\"sse_algorithm\" : \"AES256\"") && shown.contains("tags:        env=prod"), "\(shown)")
    let (captured, _) = try await Cluster.run(fixpoint, ["baseline", "capture", "--resource", good, "--comment", "reviewed"], environment: env)
    #expect(captured == 0)
    let (_, baselines) = try await Cluster.run(fixpoint, ["baseline", "list", "--resource", good, "--output", "json"], environment: env)
    #expect(try CLITests.json(baselines).compactMap { $0["reason"] as? String } == ["manual", "first_discovery"])
    let (badType, badOutput) = try await Cluster.run(fixpoint, ["provider", "sync", id, "--types", "buckets"], environment: env)
    #expect(badType != 0 && badOutput.contains("unknown type 'buckets'"))
  }
}

/// The fault-injecting proxy (python/fault_proxy.py) between inventory and moto.
final class FaultProxy: @unchecked Sendable {
  /// 19000–19499: clear of the clusters, moto servers and benchmarks; one per proxy in a run.
  let port: Int
  private let process = Process()

  init() throws {
    self.port = try LoopbackPorts.block(width: 1, in: 19_000..<19_500)
  }

  /// Starts the proxy in front of `upstream`; returns its endpoint.
  func start(upstream: String) async throws -> String {
    self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    self.process.arguments = [try TestPython.interpreter(), Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/fault_proxy.py").path, "\(self.port)", upstream]
    self.process.standardOutput = FileHandle.nullDevice
    try self.process.run()
    for _ in 0..<50 where (try? await self.state()) == nil { try await Task.sleep(for: .milliseconds(100)) }
    return "http://127.0.0.1:\(self.port)"
  }

  deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }

  /// Throttles the next `count` AWS calls; returns the proxy's counters.
  func throttle(_ count: Int) async throws -> [String: Any] { try await self.call(["-X", "POST", "-d", "{\"count\": \(count)}"]) }

  /// Answers AccessDenied, from now on, to calls whose "SERVICE METHOD PATH" matches a pattern.
  func deny(_ patterns: [String]) async throws -> [String: Any] {
    let body = String(decoding: try JSONSerialization.data(withJSONObject: ["deny": patterns]), as: UTF8.self)
    return try await self.call(["-X", "POST", "-d", body])
  }

  /// From now on every forwarded call waits `seconds` first (0 lifts it).
  func delay(_ seconds: Double) async throws -> [String: Any] { try await self.call(["-X", "POST", "-d", "{\"delay\": \(seconds)}"]) }

  /// Counters: pending, served, forwarded, denied, and S3 writes by method and path.
  func state() async throws -> [String: Any] { try await self.call([]) }

  private func call(_ arguments: [String]) async throws -> [String: Any] {
    let (status, out, err) = try await runCommand(["curl", "-sf"] + arguments + ["http://127.0.0.1:\(self.port)/_fault"])
    guard status == 0, let state = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else {
      throw ClusterError("fault proxy: \(err)")
    }
    return state
  }
}
