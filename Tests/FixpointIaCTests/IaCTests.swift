import FixpointDocuments
import FixpointIaC
import Foundation
import Testing

/// Hand-written Terraform, CloudFormation and Kubernetes files for a small estate, read and
/// compared with live documents shaped as inventory shapes them.
@Suite("Infrastructure-as-Code definitions")
struct IaCTests {
  static let state = #"""
    {
      "version": 4, "terraform_version": "1.9.5", "serial": 12, "lineage": "3f0c2a4e-1111-2222-3333-444455556666", "outputs": {},
      "resources": [
        {"mode": "data", "type": "aws_caller_identity", "name": "me", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"attributes": {"account_id": "123456789012"}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "logs", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"schema_version": 0, "attributes": {"id": "fp-logs", "bucket": "fp-logs", "tags": {"team": "sec"}, "tags_all": {"team": "sec", "owner": "platform"},
           "versioning": [{"enabled": false, "mfa_delete": false}], "policy": ""}, "sensitive_attributes": [], "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ=="}]},
        {"mode": "managed", "type": "aws_s3_bucket_public_access_block", "name": "logs", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "fp-logs", "bucket": "fp-logs", "block_public_acls": true, "block_public_policy": true,
           "ignore_public_acls": true, "restrict_public_buckets": true}}]},
        {"mode": "managed", "type": "aws_s3_bucket_versioning", "name": "logs", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "fp-logs", "bucket": "fp-logs", "versioning_configuration": [{"status": "Enabled", "mfa_delete": ""}]}}]},
        {"mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "logs", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "fp-logs", "bucket": "fp-logs",
           "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256", "kms_master_key_id": ""}], "bucket_key_enabled": false}]}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "site", "each": "map", "provider": "provider.aws",
         "instances": [
           {"index_key": "a", "attributes": {"id": "fp-site-a", "bucket": "fp-site-a", "tags": null, "tags_all": {}}},
           {"index_key": "b", "attributes": {"id": "fp-site-b", "bucket": "fp-site-b", "tags": null, "tags_all": {}}}]},
        {"module": "module.net", "mode": "managed", "type": "aws_security_group", "name": "web", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "sg-1", "name": "web", "description": "web tier", "vpc_id": "vpc-1", "tags": {}, "tags_all": {},
           "ingress": [{"cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false,
                        "protocol": "tcp", "from_port": 443, "to_port": 443, "description": "https"}],
           "egress": [{"cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false,
                       "protocol": "-1", "from_port": 0, "to_port": 0, "description": ""}]}}]},
        {"module": "module.net", "mode": "managed", "type": "aws_security_group_rule", "name": "ssh", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "sgrule-99", "type": "ingress", "security_group_id": "sg-1", "protocol": "6", "from_port": 22,
           "to_port": 22, "cidr_blocks": ["10.0.0.0/8"], "self": false}}]},
        {"mode": "managed", "type": "aws_instance", "name": "app", "each": "list", "provider": "provider.aws",
         "instances": [
           {"index_key": 0, "attributes": {"id": "i-1", "instance_type": "t3.micro", "vpc_security_group_ids": ["sg-1"], "tags": {}, "tags_all": {},
             "metadata_options": [{"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"}]}},
           {"index_key": 1, "attributes": {"id": "i-2", "instance_type": "t3.micro", "vpc_security_group_ids": ["sg-1"], "tags": {}, "tags_all": {},
             "metadata_options": [{"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1}]}},
           {"index_key": 1, "deposed": "00000001", "attributes": {"id": "i-old"}}]},
        {"mode": "managed", "type": "aws_db_instance", "name": "main", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "db-ABCDEFG", "identifier": "db1", "password": "hunter2hunter2", "publicly_accessible": false,
           "backup_retention_period": 7, "deletion_protection": true, "storage_encrypted": true, "tags_all": {}},
           "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]]}]},
        {"mode": "managed", "type": "aws_iam_access_key", "name": "ci", "provider": "provider.aws",
         "instances": [{"attributes": {"id": "AKIAEXAMPLE", "user": "ci", "secret": "wJalrXUtnFEMI/K7MDENG", "ses_smtp_password_v4": "BPx", "status": "Active"}}]}
      ]
    }
    """#

  static func live(_ type: String, _ name: String, _ document: JSONValue, region: String = "us-east-1") -> LiveResource {
    LiveResource(id: "res_\(name)", type: type, externalID: "arn:\(name)", name: name, region: region, document: document)
  }

  static func rule(_ proto: String, _ port: Int, _ cidr: String, _ description: String = "", id: String) -> JSONValue {
    ["rule_id": .string(id), "protocol": .string(proto), "from_port": .number(Double(port)), "to_port": .number(Double(port)),
     "description": .string(description), "cidr_ipv4": .string(cidr)]
  }

  static let estate: [LiveResource] = [
    live("s3_bucket", "fp-logs", [
      "name": "fp-logs", "region": "us-east-1", "versioning": "Suspended", "tags": ["team": "sec", "owner": "platform"],
      "public_access_block": ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true],
      "encryption": ["sse_algorithm": "AES256", "bucket_key_enabled": false], "acl_grants": [],
    ]),
    live("s3_bucket", "fp-site-a", ["name": "fp-site-a", "versioning": "Disabled", "tags": [:]]),
    live("s3_bucket", "stray", ["name": "stray", "tags": [:]]),
    live("security_group", "web", [
      "id": "sg-1", "name": "web", "description": "web tier", "vpc_id": "vpc-1", "network_interface_count": 2, "tags": [:],
      "ingress": [
        "tcp 443-443 0.0.0.0/0": rule("tcp", 443, "0.0.0.0/0", "https", id: "sgr-a"),
        "tcp 22-22 10.0.0.0/8": rule("tcp", 22, "10.0.0.0/8", id: "sgr-b"),
        "tcp 3389-3389 0.0.0.0/0": rule("tcp", 3389, "0.0.0.0/0", id: "sgr-c"),
      ],
      "egress": ["all 0.0.0.0/0": ["rule_id": "sgr-d", "protocol": "-1", "from_port": -1, "to_port": -1, "description": "", "cidr_ipv4": "0.0.0.0/0"]],
    ]),
    live("security_group", "other", ["id": "sg-2", "name": "other", "ingress": [:], "egress": [:]]),
    live("ec2_instance", "i-1", [
      "id": "i-1", "instance_type": "t3.micro", "state": "running", "security_groups": ["sg-1"], "tags": [:],
      "metadata_options": ["http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1],
    ]),
    live("ec2_instance", "i-2", [
      "id": "i-2", "instance_type": "t3.micro", "state": "running", "security_groups": ["sg-1"], "tags": [:],
      "metadata_options": ["http_tokens": "optional", "http_endpoint": "enabled", "http_put_response_hop_limit": 1],
    ]),
    live("rds_instance", "db1", [
      "identifier": "db1", "engine": "postgres", "publicly_accessible": false, "backup_retention_period": 7, "deletion_protection": true,
      "storage_encrypted": true, "tags": [:],
    ]),
  ]

  @Test("a state: modules, count and for_each addresses; split S3 resources and rule resources joined; data sources, deposed objects and secrets left out")
  func state() throws {
    let parsed = try IaC.parse(Data(Self.state.utf8), format: .terraformState)
    #expect(parsed.resources.map(\.address) == [
      "aws_s3_bucket.logs", #"aws_s3_bucket.site["a"]"#, #"aws_s3_bucket.site["b"]"#, "module.net.aws_security_group.web", "aws_instance.app[0]",
      "aws_instance.app[1]", "aws_db_instance.main",
    ])
    #expect(parsed.unsupported == ["aws_iam_access_key": 1])
    let logs = try #require(parsed.resources.first)
    #expect(logs.key == "fp-logs" && logs.type == "s3_bucket")
    #expect(logs.document == [
      "tags": ["team": "sec", "owner": "platform"], "versioning": "Enabled",
      "public_access_block": ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true],
      "encryption": ["sse_algorithm": "AES256", "bucket_key_enabled": false],
    ])
    let web = parsed.resources[3]
    #expect(web.key == "sg-1")
    #expect(web.document["ingress"]?.objectValue.map { Set($0.keys) } == ["tcp 443-443 0.0.0.0/0", "tcp 22-22 10.0.0.0/8"])
    #expect(web.document["egress"]?["all 0.0.0.0/0"]?["protocol"] == "-1")
    let db = parsed.resources[6]
    #expect(db.key == "db1" && db.document["password"] == nil)
    // The kept copy has no secret in it; the rest is as uploaded.
    let kept = String(decoding: try IaC.storable(Data(Self.state.utf8), format: .terraformState), as: UTF8.self)
    for secret in ["hunter2hunter2", "wJalrXUtnFEMI", "BPx", "eyJzY2hlbWFf"] { #expect(!kept.contains(secret), "\(secret) kept") }
    #expect(kept.contains("fp-site-b") && kept.contains("AKIAEXAMPLE"))
  }

  @Test("a state against the live estate: changed, missing and unmanaged exactly, coverage per type and overall, rule order and assigned ids never drift")
  func compare() throws {
    let parsed = try IaC.parse(Data(Self.state.utf8), format: .terraformState)
    let result = IaCComparison.compare(declared: parsed.resources, live: Self.estate)
    let changed = Dictionary(uniqueKeysWithValues: result.changed.map { ($0.declared.address, $0.differences.map(\.description)) })
    #expect(changed == [
      "aws_s3_bucket.logs": [#"versioning: "Enabled" → "Suspended""#],
      "module.net.aws_security_group.web": ["cidr_ipv4: null → \"0.0.0.0/0\"", "description: null → \"\"", "from_port: null → 3389",
                                            "protocol: null → \"tcp\"", "to_port: null → 3389"].map { "ingress[tcp 3389-3389 0.0.0.0/0].\($0)" },
      "aws_instance.app[1]": [#"metadata_options.http_tokens: "required" → "optional""#],
    ])
    #expect(result.missing.map(\.declared.address) == [#"aws_s3_bucket.site["b"]"#])
    #expect(result.unmanaged.map(\.name).sorted() == ["other", "stray"])
    #expect(Set(result.inSync) == [#"aws_s3_bucket.site["a"]"#, "aws_instance.app[0]", "aws_db_instance.main"])
    #expect(result.coverageByType["s3_bucket"] == .init(managed: 2, unmanaged: 1))
    #expect(result.coverageByType["security_group"] == .init(managed: 1, unmanaged: 1))
    #expect(result.coverageByType["ec2_instance"] == .init(managed: 2, unmanaged: 0))
    #expect(result.coverage == .init(managed: 6, unmanaged: 2) && result.coverage.ratio == 0.75)
  }

  @Test("ignore rules: a whole resource, one attribute path, globs, escaped dots, and a negation; a malformed rule names its line")
  func ignore() throws {
    let parsed = try IaC.parse(Data(Self.state.utf8), format: .terraformState)
    let rules = try IgnoreRules(parsing: """
      # noise we accept
      aws_s3_bucket.fp-site-*
      !aws_s3_bucket.fp-site-a
      security_group.*.ingress[tcp 3389-3389 0.0.0.0/0]
      s3_bucket.stray
      aws_instance.aws_instance\\.app[1].metadata_options
      """)
    let result = IaCComparison.compare(declared: parsed.resources, live: Self.estate, ignore: rules)
    #expect(result.changed.map(\.declared.address) == ["aws_s3_bucket.logs"])
    #expect(result.missing.isEmpty, "site b is ignored")
    #expect(result.unmanaged.map(\.name) == ["other"])
    #expect(Set(result.inSync).isSuperset(of: [#"aws_s3_bucket.site["a"]"#, "aws_instance.app[1]", "module.net.aws_security_group.web"]))
    #expect(throws: IaCError("line 2", "'aws_s3_bucket' is not TYPE.ID or TYPE.ID.PATH")) { try IgnoreRules(parsing: "# x\naws_s3_bucket") }
  }

  static let plan = #"""
    {
      "format_version": "1.2", "terraform_version": "1.9.5",
      "resource_changes": [
        {"address": "aws_s3_bucket.new", "mode": "managed", "type": "aws_s3_bucket", "name": "new",
         "change": {"actions": ["create"], "before": null, "after": {"bucket": "fp-new", "tags": null, "force_destroy": false},
                    "after_unknown": {"id": true, "arn": true, "tags_all": true, "versioning": true}, "before_sensitive": false, "after_sensitive": {}}},
        {"address": "aws_s3_bucket_public_access_block.new", "mode": "managed", "type": "aws_s3_bucket_public_access_block", "name": "new",
         "change": {"actions": ["create"], "before": null, "after": {"block_public_acls": true, "block_public_policy": true,
                    "ignore_public_acls": true, "restrict_public_buckets": false}, "after_unknown": {"bucket": true, "id": true}}},
        {"address": "aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main",
         "change": {"actions": ["update"], "before": {}, "after": {"identifier": "db1", "password": "hunter2hunter2", "publicly_accessible": true,
                    "backup_retention_period": 7}, "after_unknown": {}, "after_sensitive": {"password": true}}},
        {"address": "module.keys.aws_kms_key.k[0]", "module_address": "module.keys", "mode": "managed", "type": "aws_kms_key", "name": "k", "index": 0,
         "change": {"actions": ["update"], "before": {}, "after": {"key_id": "k-1", "description": "app"}, "after_unknown": {"enable_key_rotation": true}}},
        {"address": "aws_s3_bucket.old", "mode": "managed", "type": "aws_s3_bucket", "name": "old",
         "change": {"actions": ["delete"], "before": {"bucket": "fp-old"}, "after": null}},
        {"address": "data.aws_iam_policy_document.p", "mode": "data", "type": "aws_iam_policy_document", "name": "p",
         "change": {"actions": ["read"], "before": null, "after": {}}}
      ],
      "configuration": {"root_module": {"resources": [
        {"address": "aws_s3_bucket_public_access_block.new", "mode": "managed", "type": "aws_s3_bucket_public_access_block", "name": "new",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.new.id", "aws_s3_bucket.new"]}, "block_public_acls": {"constant_value": true}}}
      ]}}
    }
    """#

  @Test("a plan: after values, unknowns and sensitive values never compared, a split resource joined through its reference, deletes and reads left out")
  func plan() throws {
    let parsed = try IaC.parse(Data(Self.plan.utf8), format: .terraformPlan)
    #expect(parsed.resources.map(\.address) == ["aws_s3_bucket.new", "aws_db_instance.main", "module.keys.aws_kms_key.k[0]"])
    #expect(parsed.resources.map(\.action) == ["create", "update", "update"])
    #expect(parsed.resources[0].document["public_access_block"]?["restrict_public_buckets"] == .bool(false), "joined by reference")
    #expect(parsed.resources[2].document["rotation_enabled"] == Declared.unknown)
    let live = [
      Self.live("rds_instance", "db1", ["identifier": "db1", "publicly_accessible": false, "backup_retention_period": 7, "tags": [:]]),
      Self.live("kms_key", "k-1", ["key_id": "k-1", "description": "app", "rotation_enabled": false]),
    ]
    let result = IaCComparison.compare(declared: parsed.resources, live: live)
    #expect(result.changed.map { $0.differences.map(\.description) } == [["publicly_accessible: true → false"]])
    #expect(result.inSync == ["module.keys.aws_kms_key.k[0]"], "an unknown rotation is not a difference")
    #expect(result.missing.map(\.declared.address) == ["aws_s3_bucket.new"])
    let kept = String(decoding: try IaC.storable(Data(Self.plan.utf8), format: .terraformPlan), as: UTF8.self)
    #expect(!kept.contains("hunter2"))
  }

  @Test("a plan written by Windows PowerShell (UTF-16LE with a byte-order mark) reads as the same plan")
  func utf16() throws {
    var data = Data([0xFF, 0xFE])
    data.append(Self.plan.data(using: .utf16LittleEndian)!)
    #expect(IaC.detect(data) == .terraformPlan)
    #expect(try IaC.parse(data, format: .terraformPlan).resources.count == 3)
  }

  static let template = """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      Env: {Type: String}
    Resources:
      Logs:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: fp-logs
          VersioningConfiguration: {Status: Enabled}
          BucketEncryption:
            ServerSideEncryptionConfiguration:
              - ServerSideEncryptionByDefault: {SSEAlgorithm: aws:kms, KMSMasterKeyID: !GetAtt Key.Arn}
          PublicAccessBlockConfiguration: {BlockPublicAcls: true, BlockPublicPolicy: "true", IgnorePublicAcls: true, RestrictPublicBuckets: true}
          Tags: [{Key: env, Value: !Ref Env}]
      Web:
        Type: AWS::EC2::SecurityGroup
        Properties:
          GroupName: web
          GroupDescription: !Sub "${Env} web tier"
          VpcId: !ImportValue shared-vpc
          SecurityGroupIngress:
            - {IpProtocol: tcp, FromPort: 443, ToPort: "443", CidrIp: 0.0.0.0/0}
            - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: !If [IsProd, 10.0.0.0/8, 0.0.0.0/0]}
      Db:
        Type: AWS::RDS::DBInstance
        Properties: {DBInstanceIdentifier: DB1, PubliclyAccessible: false, BackupRetentionPeriod: "7", Endpoint: !GetAtt Other.Endpoint.Address}
      Key:
        Type: AWS::KMS::Key
        Properties: {EnableKeyRotation: true}
    """

  @Test("CloudFormation YAML with short-form tags and the same template as JSON give the same resources; intrinsics are unknown, never compared")
  func cloudFormation() throws {
    #expect(IaC.detect(Data(Self.template.utf8)) == .cloudFormation)
    let yaml = try IaC.parse(Data(Self.template.utf8), format: .cloudFormation)
    #expect(yaml.resources.map(\.address) == ["Db", "Logs", "Web"] && yaml.unsupported == ["AWS::KMS::Key": 1])
    #expect(yaml.resources.map(\.key) == ["db1", "fp-logs", "name:web"])
    let logs = yaml.resources[1].document
    #expect(logs["encryption"] == ["sse_algorithm": "aws:kms", "kms_key_id": Declared.unknown, "bucket_key_enabled": false])
    #expect(logs["public_access_block"]?["block_public_policy"] == .bool(true) && logs["versioning"] == "Enabled")
    #expect(yaml.resources[0].document["backup_retention_period"] == .number(7))
    let web = yaml.resources[2].document
    #expect(web["description"] == Declared.unknown)
    #expect(web["ingress"]?.objectValue?.count == 2 && web["ingress"]?["tcp 443-443 0.0.0.0/0"]?["to_port"] == .number(443))
    // The same template as JSON, long-form intrinsics.
    let json = """
      {"Resources": {"Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "fp-logs", "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
          "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}}}}}
      """
    #expect(IaC.detect(Data(json.utf8)) == .cloudFormation)
    #expect(try IaC.parse(Data(json.utf8), format: .cloudFormation).resources.first?.document == logs)
    // Against the live bucket: the key is unknown, so only versioning differs.
    let live = Self.live("s3_bucket", "fp-logs", [
      "name": "fp-logs", "versioning": "Suspended", "encryption": ["sse_algorithm": "aws:kms", "kms_key_id": "arn:aws:kms:…:key/1", "bucket_key_enabled": false],
      "public_access_block": ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true],
    ])
    let result = IaCComparison.compare(declared: yaml.resources, live: [live])
    #expect(result.changed.map { $0.differences.map(\.description) } == [[#"versioning: "Enabled" → "Suspended""#]])
  }

  @Test("Kubernetes manifests: several documents and a List, identified by kind, namespace and name; a Secret's values are not kept")
  func kubernetes() throws {
    let manifests = """
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: shop}
      spec: {replicas: 2}
      ---
      apiVersion: v1
      kind: List
      items:
        - {apiVersion: v1, kind: Secret, metadata: {name: db, namespace: shop}, stringData: {password: hunter2}}
        - {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
      """
    #expect(IaC.detect(Data(manifests.utf8)) == .kubernetes)
    let parsed = try IaC.parse(Data(manifests.utf8), format: .kubernetes)
    #expect(parsed.resources.map(\.address) == ["Deployment/shop/web", "Secret/shop/db", "Namespace/shop"])
    #expect(parsed.resources.map(\.sourceType) == ["apps/v1/Deployment", "v1/Secret", "v1/Namespace"])
    let kept = String(decoding: try IaC.storable(Data(manifests.utf8), format: .kubernetes), as: UTF8.self)
    #expect(!kept.contains("hunter2") && kept.contains("replicas"))
  }

  @Test("malformed files of every format are refused naming the line or the JSON path", arguments: [
    (IaCFormat.terraformState, "{\"version\": 4,\n \"resources\": [\n  {\"type\": }\n]}", "line 3"),
    (.terraformState, #"{"version": 3, "modules": []}"#, "$.version: state version 3 is not supported"),
    (.terraformState, #"{"version": 4, "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{}]}]}"#,
     "$.resources[0].instances[0].attributes: missing"),
    (.terraformState, #"{"version": 4, "resources": [{"mode": "weird", "type": "t", "name": "n", "instances": []}]}"#, "$.resources[0].mode"),
    (.terraformPlan, #"{"format_version": "2.0", "resource_changes": []}"#, "$.format_version: plan format 2.0 is not supported"),
    (.terraformPlan, #"{"format_version": "1.0", "resource_changes": [{"address": "a.b", "type": "a", "change": {}}]}"#, "$.resource_changes[0].change.actions"),
    (.cloudFormation, "Resources:\n  A:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: [unclosed\n", "line"),
    (.cloudFormation, "Resources:\n  A:\n    Properties: {}\n", "$.Resources.A.Type: missing"),
    (.cloudFormation, "AWSTemplateFormatVersion: x\n", "$.Resources: missing"),
    (.kubernetes, "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "document 1: metadata.name is missing"),
    (.kubernetes, "kind: ConfigMap\n  bad: indent\n", "line 2"),
  ])
  func malformed(format: IaCFormat, content: String, expected: String) {
    #expect {
      _ = try IaC.parse(Data(content.utf8), format: format)
    } throws: { error in
      "\(error)".contains(expected)
    }
  }

  @Test("a file over 50 MB is refused before it is read")
  func tooLarge() {
    let big = Data(count: IaC.maxBytes + 1)
    #expect(throws: IaCError("", "the file is \(IaC.maxBytes + 1) bytes; the limit is \(IaC.maxBytes)")) { _ = try IaC.parse(big, format: .terraformState) }
  }
}
