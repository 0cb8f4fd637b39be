import CloudAWS
import FixpointDocuments
import Foundation
import TestSupport
import Testing

/// Every resource type read from a real moto_server seeded by boto3, compared with what boto3 reads.
@Suite("Discovery against moto", .serialized)
struct MotoDiscoveryTests {
  static let region = "us-east-1"

  static func seeded() async throws -> (MotoServer, AWSAccount, JSONValue) {
    let moto = try await MotoServer()
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/seed.py").path
    let (status, out, err) = try await runCommand([try TestPython.interpreter(), script, moto.endpoint, Self.region])
    guard status == 0 else { throw TestSupportError("seed failed: \(err)") }
    let client = try AWSClient(
      credentials: StaticCredentials(AWSCredentials(accessKeyID: "AKIAFIXPOINTTEST0001", secretAccessKey: "test-secret")),
      endpoint: moto.endpoint)
    let identity = try await client.callerIdentity(region: Self.region)
    return (moto, AWSAccount(client: client, accountID: identity.account), try JSONValue.parse(Array(out.utf8)))
  }

  static func discover(_ type: String, _ account: AWSAccount) async throws -> [CloudResource] {
    try await ResourceCatalog.byName[type]!.discover(account, region: Self.region)
  }

  @Test("every type reads what boto3 wrote, misconfigured and compliant alike")
  func discoverEverything() async throws {
    let (moto, account, truth) = try await Self.seeded()
    _ = moto
    #expect(account.accountID == "123456789012")

    // Every field a discovered document has is one its type's schema declares.
    for type in ResourceCatalog.all {
      let schema = ResourceSchema.of(type.name)
      for resource in try await type.discover(account, region: Self.region) {
        let unknown = Set(resource.configuration.objectValue?.keys ?? [:].keys).subtracting(schema.fields)
        #expect(unknown.isEmpty, "\(type.name) \(resource.name) has fields its schema lacks: \(unknown.sorted())")
      }
    }

    let buckets = try await Self.discover("s3_bucket", account)
    let bad = try #require(buckets.first { $0.name == "fp-bad-bucket" })
    let good = try #require(buckets.first { $0.name == "fp-good-bucket" })
    #expect(bad.configuration["encryption"] == nil)
    #expect(bad.configuration["public_access_block"] == nil)
    #expect(bad.configuration["policy"]?["Statement"]?.arrayValue?.count == 1)
    #expect(good.configuration["encryption"]?["sse_algorithm"] == "AES256")
    #expect(good.configuration["public_access_block"] == ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true])
    #expect(good.configuration["versioning"]?.stringValue == truth["s3_bucket"]?["fp-good-bucket"]?["versioning"]?.stringValue)
    #expect(bad.configuration["versioning"] == "Disabled")
    #expect(good.tags == ["env": "prod"])

    let account_pab = try await Self.discover("s3_account_public_access_block", account)
    #expect(account_pab.count == 1 && account_pab[0].configuration["public_access_block"] == nil)

    let groups = try await Self.discover("security_group", account)
    for (id, rules) in truth["security_group"]?.objectValue ?? [:] {
      let g = try #require(groups.first { $0.configuration["id"]?.stringValue == id })
      let ours = (g.configuration["ingress"]?.objectValue ?? [:]).keys.sorted()
      #expect(ours == (rules.arrayValue ?? []).compactMap(\.stringValue), "\(id)")
      // Read from the group's permissions: each rule by what it allows, no rule id.
      #expect(g.configuration["ingress"]?.objectValue?.values.allSatisfy { $0["rule_id"] == nil && $0["protocol"]?.stringValue != nil } == true)
    }
    let openGroup = try #require(groups.first { $0.name == "fp-open-ssh" })
    #expect(openGroup.configuration["network_interface_count"] == 1, "the IMDSv1 instance uses it")

    let instances = try await Self.discover("ec2_instance", account)
    for (id, tokens) in truth["ec2_instance"]?.objectValue ?? [:] {
      let i = try #require(instances.first { $0.configuration["id"]?.stringValue == id })
      #expect(i.configuration["metadata_options"]?["http_tokens"] == tokens)
    }

    let volumes = try await Self.discover("ebs_volume", account)
    for (id, encrypted) in truth["ebs_volume"]?.objectValue ?? [:] {
      #expect(volumes.first { $0.configuration["id"]?.stringValue == id }?.configuration["encrypted"] == encrypted)
    }
    let ebsDefault = try await Self.discover("ebs_encryption_default", account)
    #expect(ebsDefault.first?.configuration["enabled"] == truth["ebs_encryption_default"])

    let vpcs = try await Self.discover("vpc", account)
    for (id, count) in truth["vpc"]?.objectValue ?? [:] {
      let v = try #require(vpcs.first { $0.configuration["id"]?.stringValue == id })
      #expect(Double(v.configuration["flow_logs"]?.objectValue?.count ?? -1) == count.numberValue)
    }

    let users = try await Self.discover("iam_user", account)
    let alice = try #require(users.first { $0.name == "fp-alice" })
    let aliceKeys = (truth["iam_user"]?["fp-alice"]?.arrayValue ?? []).compactMap(\.stringValue)
    #expect((alice.configuration["access_keys"]?.objectValue ?? [:]).map { "\($0.key):\($0.value["status"]?.stringValue ?? "")" } == aliceKeys)
    #expect(alice.configuration["console_password"] == true)
    #expect(alice.configuration["mfa_devices"] == [])
    #expect(users.first { $0.name == "fp-bob" }?.configuration["console_password"] == false)
    let policy = try await Self.discover("iam_password_policy", account)
    #expect(policy.first?.configuration["policy"]?["minimum_password_length"] == truth["iam_password_policy"])

    let databases = try await Self.discover("rds_instance", account)
    for (id, fields) in truth["rds_instance"]?.objectValue ?? [:] {
      let d = try #require(databases.first { $0.name == id })
      let ours: [JSONValue] = ["publicly_accessible", "backup_retention_period", "deletion_protection"].map { d.configuration[$0] ?? .null }
      #expect(JSONValue.array(ours) == fields, "\(id)")
    }

    let trails = try await Self.discover("cloudtrail_trail", account)
    for (name, fields) in truth["cloudtrail_trail"]?.objectValue ?? [:] {
      let t = try #require(trails.first { $0.name == name })
      let ours: [JSONValue] = ["is_multi_region_trail", "log_file_validation_enabled", "is_logging"].map { t.configuration[$0] ?? .null }
      #expect(JSONValue.array(ours) == fields, "\(name)")
    }

    let detectors = try await Self.discover("guardduty_detector", account)
    #expect(detectors.count == 1 && detectors[0].configuration["enabled"] == false && truth["guardduty_detector"] == [])

    let keys = try await Self.discover("kms_key", account)
    for (id, rotation) in truth["kms_key"]?.objectValue ?? [:] {
      #expect(keys.first { $0.name == id }?.configuration["rotation_enabled"] == rotation, "\(id)")
    }

    let subnets = try await Self.discover("subnet", account)
    #expect(subnets.count == truth["subnet"]?.objectValue?.count)
    for (id, mapsPublic) in truth["subnet"]?.objectValue ?? [:] {
      #expect(subnets.first { $0.configuration["id"]?.stringValue == id }?.configuration["map_public_ip_on_launch"] == mapsPublic, "\(id)")
    }
    #expect(subnets.contains { $0.name == "fp-private-subnet" && $0.configuration["assign_ipv6_address_on_creation"] == false })

    // Entries keyed by rule number, the protocol by name (boto3 shows moto's "6"), no fixed `*` entry.
    let acls = try await Self.discover("network_acl", account)
    for (id, entries) in truth["network_acl"]?.objectValue ?? [:] {
      let acl = try #require(acls.first { $0.configuration["id"]?.stringValue == id })
      let ours = (acl.configuration["ingress"]?.objectValue ?? [:]).map { number, e in
        "\(number) \(NetworkACL.protocolNumbers[e["protocol"]?.stringValue ?? ""] ?? "?") \(e["rule_action"]?.stringValue ?? "")"
      }.sorted()
      #expect(JSONValue.array(ours.map(JSONValue.string)) == entries, "\(id)")
    }
    let admin = try #require(acls.first { $0.name == "fp-admin-acl" })
    #expect(admin.configuration["ingress"]?["100"] == [
      "rule_number": 100, "protocol": "tcp", "rule_action": "allow", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0",
    ])
    #expect(acls.contains { $0.configuration["is_default"] == true && !($0.configuration["subnets"]?.arrayValue ?? []).isEmpty })

    let snapshots = try await Self.discover("ebs_snapshot", account)
    #expect(snapshots.count == 2, "only the account's own: \(snapshots.map(\.name))")
    for (id, permissions) in truth["ebs_snapshot"]?.objectValue ?? [:] {
      let s = try #require(snapshots.first { $0.configuration["id"]?.stringValue == id })
      let groups = (permissions.arrayValue ?? []).compactMap { $0["Group"] }
      let users = (permissions.arrayValue ?? []).compactMap { $0["UserId"] }
      #expect(s.configuration["create_volume_permission"] == ["groups": .array(groups), "user_ids": .array(users)], "\(id)")
    }

    let functions = try await Self.discover("lambda_function", account)
    for (name, sids) in truth["lambda_function"]?.objectValue ?? [:] {
      let f = try #require(functions.first { $0.name == name })
      #expect(JSONValue.array((f.configuration["policy_statements"]?.objectValue ?? [:]).keys.sorted().map(JSONValue.string)) == sids, "\(name)")
      #expect(f.tags == ["team": "payments"] && f.configuration["runtime"] == "python3.12")
    }
    let open = try #require(functions.first { $0.name == "fp-public-function" })
    #expect(open.configuration["policy_statements"]?["anyone"]?["Principal"] == "*")

    let summary = try await ResourceCatalog.byName["cloudtrail_account"]!.discover(account, region: "global")
    #expect(summary.count == 1 && summary[0].region == "global")
    for (name, fields) in truth["cloudtrail_account"]?.objectValue ?? [:] {
      let t = try #require(summary[0].configuration["trails"]?[name], "\(name)")
      // moto gives a new trail no event selectors: it records no management events.
      let f = fields.arrayValue ?? []
      let events: JSONValue = f.count == 3 && f[2] == 0 ? "None" : "All"
      #expect(f.count == 3 && [t["is_multi_region_trail"], t["is_logging"], t["management_events"]] == [f[0], f[1], events], "\(name)")
    }
  }

  @Test("management events as trails' selectors record them")
  func managementEvents() {
    #expect(CloudTrailAccount.managementEvents(["EventSelectors": [["ReadWriteType": "All", "IncludeManagementEvents": true]]]) == "All")
    #expect(CloudTrailAccount.managementEvents(["EventSelectors": [["ReadWriteType": "All", "IncludeManagementEvents": false]]]) == "None")
    #expect(CloudTrailAccount.managementEvents(["EventSelectors": [["ReadWriteType": "ReadOnly"], ["ReadWriteType": "WriteOnly"]]]) == "All")
    #expect(CloudTrailAccount.managementEvents(["EventSelectors": [["ReadWriteType": "WriteOnly"]]]) == "WriteOnly")
    #expect(CloudTrailAccount.managementEvents(["AdvancedEventSelectors": [["FieldSelectors": [["Field": "eventCategory", "Equals": ["Management"]]]]]]) == "All")
    #expect(CloudTrailAccount.managementEvents(["AdvancedEventSelectors": [["FieldSelectors": [
      ["Field": "eventCategory", "Equals": ["Management"]], ["Field": "readOnly", "Equals": ["true"]],
    ]]]]) == "ReadOnly")
    #expect(CloudTrailAccount.managementEvents(["EventSelectors": [], "AdvancedEventSelectors": []]) == "None")
  }

  @Test("field reads and batched reads equal whole reads; a resource gone from the cloud is absent, not an error")
  func fieldAndBatchReads() async throws {
    let (moto, account, _) = try await Self.seeded()
    _ = moto
    for name in ["s3_bucket", "security_group", "ec2_instance", "rds_instance"] {
      let type = ResourceCatalog.byName[name]!
      let all = try await type.discover(account, region: Self.region)
      #expect(!all.isEmpty, "\(name)")
      // Stored documents with the changeable fields scrambled: a field read must bring back the cloud's values.
      let fields = Set(type.writers.keys).subtracting(["tags"])
      let stale = all.map { r in r.replacing(Dictionary(uniqueKeysWithValues: fields.map { ($0, JSONValue.string("stale")) })) }
      for (r, old) in zip(all, stale) {
        let fresh = try await type.read(account, stored: old, fields: fields)
        #expect(fresh == r, "\(name) \(r.name): a field read differs from the whole read")
      }
      guard let batchable = type as? any BatchReadable else { continue }
      // One call for all of them, plus one that no longer exists.
      // (a well-formed id nobody has: the last hex digit changed)
      var gone = stale[0]
      let id = gone.configuration["id"]?.stringValue ?? gone.name
      let other = String(id.dropLast()) + (id.last == "0" ? "1" : "0")
      gone.externalID = gone.externalID.replacingOccurrences(of: id, with: other)
      gone.name = gone.name.replacingOccurrences(of: id, with: other)
      gone.configuration = gone.replacing(["id": .string(other)]).configuration
      let many = try await batchable.readMany(account, region: Self.region, stored: stale + [gone], fields: fields)
      #expect(many.count == all.count && many[gone.externalID] == nil, "\(name): \(many.keys.sorted())")
      for r in all { #expect(many[r.externalID] == r, "\(name) \(r.name): a batched read differs from the whole read") }
      let last = try await batchable.readMany(account, region: Self.region, stored: [stale.last!], fields: fields)
      #expect(Array(last.keys) == [all.last!.externalID] && all.count > 1, "\(name): only what was asked for")
    }
  }
}
