import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import SwiftProtobuf
import TestSupport
import Testing

/// A Terraform state written by hand for the seeded estate (ids read from inventory, as an
/// operator's state would hold them), uploaded and compared through the CLI with the real drift
/// and inventory against moto.
@Suite("IaC drift against moto", .serialized)
struct IaCDriftTests {
  static func configuration(_ r: Fixpoint_V1_Resource) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(try r.configuration.jsonString().utf8)) as! [String: Any]
  }

  /// inventory's rule map as Terraform's inline blocks.
  static func inline(_ rules: [String: Any]?) -> [[String: Any]] {
    (rules ?? [:]).values.map { value in
      let rule = value as! [String: Any]
      let all = rule["protocol"] as? String == "-1"
      return [
        "cidr_blocks": (rule["cidr_ipv4"] as? String).map { [$0] } ?? [], "ipv6_cidr_blocks": (rule["cidr_ipv6"] as? String).map { [$0] } ?? [],
        "prefix_list_ids": (rule["prefix_list_id"] as? String).map { [$0] } ?? [],
        "security_groups": (rule["referenced_group_id"] as? String).map { [$0] } ?? [], "self": false,
        "protocol": rule["protocol"] ?? "-1", "from_port": all ? 0 : rule["from_port"] ?? 0, "to_port": all ? 0 : rule["to_port"] ?? 0,
        "description": rule["description"] ?? "",
      ]
    }
  }

  static func state(_ live: [String: Fixpoint_V1_Resource], imdsv1Tokens: String) throws -> Data {
    func resource(_ type: String, _ name: String, module: String? = nil, _ instances: [[String: Any]]) -> [String: Any] {
      var r: [String: Any] = ["mode": "managed", "type": type, "name": name, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": instances]
      if let module { r["module"] = module }
      return r
    }
    let good = try Self.configuration(live["fp-good-bucket"]!)
    let https = try Self.configuration(live["fp-private-https"]!)
    let instance = { (name: String, tokens: String?) throws -> [String: Any] in
      let c = try Self.configuration(live[name]!)
      var options = c["metadata_options"] as! [String: Any]
      if let tokens { options["http_tokens"] = tokens }
      return ["id": c["id"]!, "instance_type": c["instance_type"]!, "vpc_security_group_ids": c["security_groups"]!, "tags": c["tags"] ?? [:],
              "tags_all": c["tags"] ?? [:], "metadata_options": [options]]
    }
    let db = try Self.configuration(live["fp-db-good"]!)
    var resources: [[String: Any]] = [
      ["mode": "data", "type": "aws_caller_identity", "name": "me", "provider": "provider.aws", "instances": [["attributes": ["account_id": "123456789012"]]]],
      resource("aws_s3_bucket", "b", module: "module.buckets", [
        ["index_key": "good", "attributes": ["id": "fp-good-bucket", "bucket": "fp-good-bucket", "tags": good["tags"] ?? [:], "tags_all": good["tags"] ?? [:]]],
        ["index_key": "gone", "attributes": ["id": "fp-declared-not-live", "bucket": "fp-declared-not-live", "tags_all": [:]]],
      ]),
      resource("aws_security_group", "https", [["attributes": [
        "id": https["id"]!, "name": https["name"]!, "description": https["description"]!, "vpc_id": https["vpc_id"]!, "tags_all": https["tags"] ?? [:],
        "ingress": Self.inline(https["ingress"] as? [String: Any]), "egress": Self.inline(https["egress"] as? [String: Any]),
      ]]]),
      resource("aws_instance", "app", [
        ["index_key": 0, "attributes": try instance("fp-imdsv1", imdsv1Tokens)],
        ["index_key": 1, "attributes": try instance("fp-imdsv2", nil)],
      ]),
      resource("aws_db_instance", "good", [[
        "attributes": ["id": "db-XYZ", "identifier": "fp-db-good", "password": "db-password-in-clear", "publicly_accessible": db["publicly_accessible"]!,
                       "backup_retention_period": db["backup_retention_period"]!, "tags_all": db["tags"] ?? [:]],
        "sensitive_attributes": [[["type": "get_attr", "value": "password"]]],
      ]]),
      resource("aws_iam_access_key", "ci", [["attributes": ["id": "AKIAEXAMPLE", "user": "fp-alice", "secret": "access-key-secret-in-clear"]]]),
    ]
    if let block = good["public_access_block"] as? [String: Any] {
      var attributes = block
      attributes["bucket"] = "fp-good-bucket"
      resources.append(resource("aws_s3_bucket_public_access_block", "good", module: "module.buckets", [["attributes": attributes]]))
    }
    return try JSONSerialization.data(withJSONObject: [
      "version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "8a1f0000-0000-4000-8000-000000000001", "outputs": [:], "resources": resources,
    ])
  }

  @Test("a hand-written Terraform state: exactly the changed, missing and unmanaged resources and coverage; the change becomes a security drift that a new version resolves; bad files store nothing; Kubernetes cannot be compared yet")
  func terraformState() async throws {
    let f = try await AWSFixture.make(complianceArguments: ["--compliance-assess-after-sync", "false"])
    let all = try await f.resources()
    let live = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let dir = f.cluster.dataDir + "/iac"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let statePath = dir + "/terraform.tfstate"
    try Self.state(live, imdsv1Tokens: "required").write(to: URL(fileURLWithPath: statePath))
    let env = CLITests.environment(f.cluster)

    let (uploaded, uploadOutput) = try await Cluster.run(
      CLITests.fixpoint, ["iac", "upload", statePath, "--name", "estate", "--provider", f.providerID, "--region", AWSFixture.region], environment: env)
    #expect(uploaded == 0 && uploadOutput.contains("version 1: 6 resources") && uploadOutput.contains("aws_iam_access_key ×1"), "\(uploadOutput)")
    // The kept copy holds no secret from the state.
    let kept = try f.cluster.query(.drift) { try Data.fetchOne($0, sql: "SELECT content FROM iac_version")! }
    for secret in ["db-password-in-clear", "access-key-secret-in-clear"] { #expect(kept.range(of: Data(secret.utf8)) == nil, "\(secret) was kept") }

    let (compared, reportOutput) = try await Cluster.run(CLITests.fixpoint, ["iac", "drift", "estate", "--output", "json"], environment: env)
    #expect(compared == 3, "drift exits 3: \(reportOutput)")
    // The report as drift's SQLite file holds it.
    let report = try f.cluster.query(.drift) { db in
      try Fixpoint_V1_IaCDriftReport(serializedBytes: try Data.fetchOne(db, sql: "SELECT report FROM iac_report ORDER BY generated_at DESC LIMIT 1")!)
    }
    #expect(report.changed.map(\.address) == ["aws_instance.app[0]"])
    #expect(report.changed.first?.differences.map(\.path) == ["metadata_options.http_tokens"])
    #expect(report.changed.first?.kind == .security && report.changed.first?.controlID == "EC2.8")
    #expect(report.missing.map(\.address) == [#"module.buckets.aws_s3_bucket.b["gone"]"#])
    let types: Set = ["s3_bucket", "security_group", "ec2_instance", "rds_instance"]
    let managed: Set = ["fp-good-bucket", "fp-private-https", "fp-imdsv1", "fp-imdsv2", "fp-db-good"]
    let inScope = all.filter { types.contains($0.type) && $0.region == AWSFixture.region && $0.status == .active }
    #expect(Set(report.unmanaged.map(\.resourceID)) == Set(inScope.filter { !managed.contains($0.name) }.map(\.id)))
    for type in types {
      let ofType = inScope.filter { $0.type == type }
      let c = report.coverage.first { $0.type == type }
      let m = ofType.filter { managed.contains($0.name) }.count
      #expect(c?.managed == Int32(m) && c?.unmanaged == Int32(ofType.count - m), "\(type): \(String(describing: c))")
    }
    #expect(report.coverage.last?.type == "*" && report.coverage.last?.managed == 5 && report.inSync == 4)
    // The changed resource is an open drift of this definition.
    let imdsv1 = live["fp-imdsv1"]!.id
    let drift = try f.cluster.query(.drift) { db in
      try Row.fetchOne(db, sql: "SELECT source, kind, control_id, compared_with FROM drift WHERE open_key IS NOT NULL AND resource_id = ?", arguments: [imdsv1])
    }
    #expect((drift?["source"] as String?)?.hasPrefix("iac:iac_") == true && drift?["control_id"] as String? == "EC2.8", "\(String(describing: drift))")
    #expect((drift?["compared_with"] as String?)?.hasSuffix("@1") == true)
    let (_, tableOutput) = try await Cluster.run(CLITests.fixpoint, ["iac", "drift", "estate"], environment: env)
    #expect(tableOutput.contains("metadata_options.http_tokens") && tableOutput.contains("fp-declared-not-live") && tableOutput.contains("coverage"), "\(tableOutput)")

    // Version 2 declares what is live: the drift resolves; the first version stays in history. A
    // re-upload without a scope keeps the definition's.
    try Self.state(live, imdsv1Tokens: "optional").write(to: URL(fileURLWithPath: statePath))
    let (again, againOutput) = try await Cluster.run(CLITests.fixpoint, ["iac", "upload", statePath, "--name", "estate"], environment: env)
    #expect(again == 0 && againOutput.contains("version 2"), "\(againOutput)")
    let kept2 = try f.cluster.query(.drift) { try Row.fetchOne($0, sql: "SELECT provider_id, regions FROM iac_definition WHERE name = 'estate'") }
    #expect(kept2?["provider_id"] as String? == f.providerID && kept2?["regions"] as String? == "[\"\(AWSFixture.region)\"]")
    let (second, _) = try await Cluster.run(CLITests.fixpoint, ["iac", "drift", "estate", "--output", "json"], environment: env)
    #expect(second == 3, "still missing and unmanaged ones")
    let (resolved, versions) = try f.cluster.query(.drift) { db in
      (try Int.fetchOne(db, sql: "SELECT status FROM drift WHERE resource_id = ? AND source LIKE 'iac:%'", arguments: [imdsv1]),
       try Int.fetchAll(db, sql: "SELECT version FROM iac_version ORDER BY version"))
    }
    #expect(resolved == Fixpoint_V1_Drift.Status.resolved.rawValue && versions == [1, 2])

    // Bad input is refused naming the problem, and nothing is stored.
    let before = try f.cluster.query(.drift) { try Int.fetchOne($0, sql: "SELECT (SELECT COUNT(*) FROM iac_definition) * 1000 + (SELECT COUNT(*) FROM iac_version)")! }
    let refused: [(String, Fixpoint_V1_UploadIaCDefinitionRequest)] = [
      ("line 2", .with { $0.name = "bad"; $0.scope.providerID = f.providerID; $0.content = Data("{\"version\": 4,\n \"resources\": [}".utf8) }),
      ("no provider prv_nothere", .with { $0.name = "bad"; $0.scope.providerID = "prv_nothere"; $0.content = try! Self.state(live, imdsv1Tokens: "required") }),
      ("scope.provider_id: is required", .with { $0.name = "bad"; $0.content = try! Self.state(live, imdsv1Tokens: "required") }),
      ("limit is 52428800", .with { $0.name = "bad"; $0.scope.providerID = f.providerID; $0.content = Data(count: 52_428_801) }),
      ("scope.resource_types[0]: unknown type", .with { $0.name = "bad"; $0.scope.providerID = f.providerID; $0.scope.resourceTypes = ["buckets"]; $0.content = try! Self.state(live, imdsv1Tokens: "required") }),
      ("a name keeps its format", .with { $0.name = "estate"; $0.scope.providerID = f.providerID; $0.format = .cloudformation; $0.content = Data("Resources: {A: {Type: AWS::S3::Bucket}}".utf8) }),
    ]
    for (message, request) in refused {
      await #expect(performing: { _ = try await f.drift { try await $0.uploadIaCDefinition(request) } }, throws: { error in
        let e = error as? RPCError
        return e?.code == .invalidArgument && e?.message.contains(message) == true
      })
    }
    let after = try f.cluster.query(.drift) { try Int.fetchOne($0, sql: "SELECT (SELECT COUNT(*) FROM iac_definition) * 1000 + (SELECT COUNT(*) FROM iac_version)")! }
    #expect(before == after, "nothing stored")

    // A plan: a value known only after apply is not compared; a bucket to be created is missing.
    let imds = try Self.configuration(live["fp-imdsv1"]!)
    let plan = try JSONSerialization.data(withJSONObject: [
      "format_version": "1.2", "terraform_version": "1.9.5",
      "resource_changes": [
        ["address": "aws_instance.app[0]", "mode": "managed", "type": "aws_instance", "name": "app", "index": 0,
         "change": ["actions": ["update"], "after": ["id": imds["id"]!, "metadata_options": [["http_endpoint": "enabled", "http_put_response_hop_limit": (imds["metadata_options"] as! [String: Any])["http_put_response_hop_limit"]!]]],
                    "after_unknown": ["metadata_options": [["http_tokens": true]]]]],
        ["address": "aws_s3_bucket.new", "mode": "managed", "type": "aws_s3_bucket", "name": "new",
         "change": ["actions": ["create"], "after": ["bucket": "fp-to-be-created"], "after_unknown": ["id": true, "arn": true]]],
      ],
    ])
    let planned = try await f.drift { d in
      try await d.uploadIaCDefinition(.with { $0.name = "plan"; $0.content = plan; $0.scope = .with { $0.providerID = f.providerID; $0.regions = [AWSFixture.region] } })
    }
    #expect(planned.format == .terraformPlan && planned.resourceCount == 2)
    let (_, planOutput) = try await Cluster.run(CLITests.fixpoint, ["iac", "drift", "plan", "--output", "json"], environment: env)
    let planReport = (try JSONSerialization.jsonObject(with: Data(planOutput.utf8)) as? [[String: Any]])?.first
    #expect((planReport?["changed"] as? [Any]) == nil, "the unknown http_tokens is not compared: \(planOutput)")
    #expect(((planReport?["missing"] as? [[String: Any]])?.map { $0["address"] as? String }) == ["aws_s3_bucket.new"], "\(planOutput)")

    // Kubernetes manifests are stored and validated, but not compared yet.
    let manifests = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    let k8s = try await f.drift { try await $0.uploadIaCDefinition(.with { $0.name = "cluster"; $0.content = Data(manifests.utf8) }) }
    #expect(k8s.format == .kubernetes && k8s.resourceCount == 0)
    await #expect(performing: { _ = try await f.drift { try await $0.runScan(.with { $0.definition = "cluster" }) } }, throws: { error in
      (error as? RPCError)?.code == .failedPrecondition && (error as? RPCError)?.message.contains("Kubernetes provider") == true
    })

    // Deleting a definition removes its versions and reports.
    let (deleted, _) = try await Cluster.run(CLITests.fixpoint, ["iac", "delete", "estate"], environment: env)
    #expect(deleted == 0)
    let left = try f.cluster.query(.drift) { db in
      [try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM iac_version WHERE definition_id NOT IN (?, ?)", arguments: [k8s.id, planned.id])!,
       try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM iac_report WHERE definition_id != ?", arguments: [planned.id])!]
    }
    #expect(left == [0, 0])
  }

  static let template = """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      Env: {Type: String, Default: prod}
    Resources:
      Logs:
        Type: AWS::S3::Bucket
        Properties:
          VersioningConfiguration: {Status: Enabled}
          Tags: [{Key: env, Value: !Ref Env}]
      Web:
        Type: AWS::EC2::SecurityGroup
        Properties:
          GroupDescription: !Sub "${Env} web tier"
          SecurityGroupIngress:
            - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0}
    """

  @Test("a CloudFormation stack built in moto from a YAML template with short-form tags: logical ids matched to live resources by the stack's physical ids")
  func cloudFormationStack() async throws {
    let f = try await AWSFixture.make(complianceArguments: ["--compliance-assess-after-sync", "false"])
    let create = "import boto3,sys\nboto3.client('cloudformation',endpoint_url=sys.argv[1],region_name='us-east-1',aws_access_key_id='AKIAFIXPOINTSEED0001',"
      + "aws_secret_access_key='x').create_stack(StackName='fp-stack',TemplateBody=sys.argv[2])"
    let (status, _, err) = try await runCommand([try TestPython.interpreter(), "-c", create, f.moto.endpoint, Self.template])
    try #require(status == 0, "\(err)")
    #expect(try await f.sync().progress.state == .succeeded)
    let uploaded = try await f.drift { d in
      try await d.uploadIaCDefinition(.with {
        $0.name = "stack"
        $0.content = Data(Self.template.utf8)
        $0.scope = .with { $0.providerID = f.providerID; $0.regions = [AWSFixture.region]; $0.stack = "fp-stack" }
      })
    }
    #expect(uploaded.format == .cloudformation && uploaded.resourceCount == 2)
    let run = try await f.drift { d in
      var run = try await d.runScan(.with { $0.definition = "stack" })
      while [.queued, .running].contains(run.progress.state) {
        try await Task.sleep(for: .milliseconds(100))
        run = try await d.getJobRun(.with { $0.jobID = run.id })
      }
      return run
    }
    #expect(run.progress.state == .succeeded, "\(run.progress.error)")
    let report = try f.cluster.query(.drift) { db in
      try Fixpoint_V1_IaCDriftReport(serializedBytes: try Data.fetchOne(db, sql: "SELECT report FROM iac_report WHERE job_id = ?", arguments: [run.id])!)
    }
    // moto builds the bucket without the template's versioning (it drops that property): the one
    // difference; the group is as declared (its description is a !Sub, not compared).
    #expect(report.missing.isEmpty, "both logical ids found by physical id: \(report.missing)")
    #expect(report.changed.map(\.address) == ["Logs"] && report.changed.first?.differences.map(\.path) == ["versioning"], "\(report.changed)")
    #expect(report.inSync == 1)
    let stackBucket = try #require(report.changed.first?.resource.externalID)
    #expect(stackBucket.hasPrefix("arn:aws:s3:::fp-stack"), "\(stackBucket)")
    // A stack that does not exist is refused at upload.
    await #expect(performing: {
      _ = try await f.drift { d in
        try await d.uploadIaCDefinition(.with {
          $0.name = "nostack"
          $0.content = Data(Self.template.utf8)
          $0.scope = .with { $0.providerID = f.providerID; $0.regions = [AWSFixture.region]; $0.stack = "fp-missing-stack" }
        })
      }
    }, throws: { ($0 as? RPCError).map { $0.code == .invalidArgument && $0.message.hasPrefix("scope.stack") } ?? false })
  }
}
