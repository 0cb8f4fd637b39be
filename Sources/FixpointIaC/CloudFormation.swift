import FixpointDocuments
public import Foundation

/// CloudFormation templates (JSON, or YAML with short-form intrinsics) and the resource types
/// inventory reads. A value given by an intrinsic (`Ref`, `Fn::…`) is not known until the stack is
/// built: it is never compared. Tags are not compared either: CloudFormation adds its own
/// `aws:cloudformation:*` tags to what it creates.
public enum CloudFormation {
  public static func parse(_ data: Data) throws -> ParsedDefinition {
    try Self.template(try IaC.Source.read(data, as: .cloudFormation))
  }

  static func template(_ source: IaC.Source) throws -> ParsedDefinition {
    let root: JSONValue
    switch source {
    case .json(let value): root = value
    case .yaml(let documents):
      guard documents.count == 1, let only = documents.first else {
        throw IaCError("", "a CloudFormation template is one YAML document, not \(documents.count)")
      }
      root = only
    }
    guard case .object = root else { throw IaCError("$", "a template is an object") }
    guard let resources = root["Resources"]?.objectValue, !resources.isEmpty else {
      throw IaCError("$.Resources", "missing or empty: not a CloudFormation template")
    }
    var declared: [DeclaredResource] = []
    var unsupported: [String: Int] = [:]
    for (logical, resource) in resources.sorted(by: { $0.key < $1.key }) {
      guard let type = resource["Type"]?.stringValue else { throw IaCError("$.Resources.\(logical).Type", "missing") }
      let properties = resource["Properties"] ?? .object([:])
      guard case .object = properties else { throw IaCError("$.Resources.\(logical).Properties", "not an object") }
      if let converted = Self.convert(logical: logical, type: type, properties: properties) {
        declared.append(converted)
      } else {
        unsupported[type, default: 0] += 1
      }
    }
    return ParsedDefinition(format: .cloudFormation, resources: declared, unsupported: unsupported)
  }

  /// An intrinsic function's value (`{"Ref": …}`, `{"Fn::Sub": …}`) is unknown here.
  static func value(_ v: JSONValue?) -> JSONValue? {
    guard let v else { return nil }
    if case .object(let o) = v, o.count == 1, let k = o.keys.first, k == "Ref" || k.hasPrefix("Fn::") { return Declared.unknown }
    return v
  }

  static func bool(_ v: JSONValue?) -> JSONValue? {
    guard let v = Self.value(v) else { return nil }
    if let s = v.stringValue, v != Declared.unknown { return s.lowercased() == "true" ? .bool(true) : s.lowercased() == "false" ? .bool(false) : v }
    return v
  }

  static func int(_ v: JSONValue?) -> JSONValue? {
    guard let v = Self.value(v) else { return nil }
    if let s = v.stringValue, v != Declared.unknown, let n = Int(s) { return .number(Double(n)) }
    return v
  }

  static func convert(logical: String, type: String, properties p: JSONValue) -> DeclaredResource? {
    var d: [String: JSONValue] = [:]
    let inventoryType: String
    var key = ""
    func name(_ field: String) -> String { Terraform.known(Self.value(p[field])) ?? "" }
    switch type {
    case "AWS::S3::Bucket":
      inventoryType = ResourceTypeName.s3Bucket
      key = name("BucketName")
      if let rule = p["BucketEncryption"]?["ServerSideEncryptionConfiguration"]?.arrayValue?.first {
        let byDefault = rule["ServerSideEncryptionByDefault"]
        var encryption: [String: JSONValue] = [
          "sse_algorithm": Self.value(byDefault?["SSEAlgorithm"]) ?? Declared.unknown,
          "bucket_key_enabled": Self.bool(rule["BucketKeyEnabled"]) ?? .bool(false),
        ]
        if let kms = Self.value(byDefault?["KMSMasterKeyID"]) { encryption["kms_key_id"] = kms }
        d["encryption"] = .object(encryption)
      }
      if let block = p["PublicAccessBlockConfiguration"] {
        let pairs = [("BlockPublicAcls", "block_public_acls"), ("IgnorePublicAcls", "ignore_public_acls"),
                     ("BlockPublicPolicy", "block_public_policy"), ("RestrictPublicBuckets", "restrict_public_buckets")]
        d["public_access_block"] = .object(Dictionary(uniqueKeysWithValues: pairs.map { ($0.1, Self.bool(block[$0.0]) ?? .bool(false)) }))
      }
      if let status = Self.value(p["VersioningConfiguration"]?["Status"]) { d["versioning"] = status }
    case "AWS::EC2::SecurityGroup":
      inventoryType = ResourceTypeName.securityGroup
      key = name("GroupName").isEmpty ? "" : "name:\(name("GroupName"))"
      if let description = Self.value(p["GroupDescription"]) { d["description"] = description }
      for (field, property) in [("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")] {
        guard let list = Self.value(p[property]) else { continue }
        guard let rules = list.arrayValue else { d[field] = Declared.unknown; continue }
        var out: [String: JSONValue] = [:]
        for rule in rules {
          let sources: [(String, String)] = [("CidrIp", "cidr_ipv4"), ("CidrIpv6", "cidr_ipv6"), ("SourcePrefixListId", "prefix_list_id"),
                                             ("DestinationPrefixListId", "prefix_list_id"), ("SourceSecurityGroupId", "referenced_group_id"),
                                             ("DestinationSecurityGroupId", "referenced_group_id"), ("CidrIpv6", "cidr_ipv6")]
          guard let (from, to) = sources.first(where: { rule[$0.0] != nil }) else { continue }
          let (k, r) = Terraform.rule(
            protocol: Self.value(rule["IpProtocol"]) ?? "-1", from: Self.int(rule["FromPort"]) ?? .null, to: Self.int(rule["ToPort"]) ?? .null,
            description: Self.value(rule["Description"]) ?? .null, sourceField: to, source: Self.value(rule[from]) ?? .null)
          out[k] = r
        }
        d[field] = .object(out)
      }
    case "AWS::EC2::Instance":
      inventoryType = ResourceTypeName.ec2Instance
      if let type = Self.value(p["InstanceType"]) { d["instance_type"] = type }
      if let m = p["MetadataOptions"] {
        var options: [String: JSONValue] = [:]
        if let t = Self.value(m["HttpTokens"]) { options["http_tokens"] = t }
        if let e = Self.value(m["HttpEndpoint"]) { options["http_endpoint"] = e }
        if let h = Self.int(m["HttpPutResponseHopLimit"]) { options["http_put_response_hop_limit"] = h }
        d["metadata_options"] = .object(options)
      }
    case "AWS::RDS::DBInstance":
      inventoryType = ResourceTypeName.rdsInstance
      // RDS keeps identifiers in lower case.
      key = name("DBInstanceIdentifier").lowercased()
      if let v = Self.bool(p["PubliclyAccessible"]) { d["publicly_accessible"] = v }
      if let v = Self.int(p["BackupRetentionPeriod"]) { d["backup_retention_period"] = v }
      if let v = Self.bool(p["StorageEncrypted"]) { d["storage_encrypted"] = v }
      if let v = Self.bool(p["DeletionProtection"]) { d["deletion_protection"] = v }
      if let v = Self.bool(p["MultiAZ"]) { d["multi_az"] = v }
    default:
      return nil
    }
    return DeclaredResource(address: logical, sourceType: type, type: inventoryType, key: key, document: .object(d))
  }
}

/// Kubernetes manifests: multi-document YAML (or a `kind: List`), each object identified by
/// apiVersion, kind, namespace and name. Parsed and validated; inventory has no Kubernetes
/// provider yet, so nothing is compared.
public enum Kubernetes {
  public static func parse(_ data: Data) throws -> ParsedDefinition {
    try Self.manifests(try YAMLDocuments.parse(data))
  }

  static func manifests(_ documents: [JSONValue]) throws -> ParsedDefinition {
    var declared: [DeclaredResource] = []
    for (n, document) in documents.enumerated() where document != .null {
      let items = document["kind"]?.stringValue == "List" ? document["items"]?.arrayValue ?? [] : [document]
      for (i, item) in items.enumerated() {
        let at = "document \(n + 1)" + (items.count > 1 || document["kind"]?.stringValue == "List" ? ", item \(i + 1)" : "")
        guard case .object = item else { throw IaCError(at, "a manifest is a mapping") }
        guard let api = item["apiVersion"]?.stringValue, !api.isEmpty else { throw IaCError(at, "apiVersion is missing") }
        guard let kind = item["kind"]?.stringValue, !kind.isEmpty else { throw IaCError(at, "kind is missing") }
        guard let name = item["metadata"]?["name"]?.stringValue, !name.isEmpty else { throw IaCError(at, "metadata.name is missing") }
        let namespace = item["metadata"]?["namespace"]?.stringValue
        declared.append(DeclaredResource(
          address: [kind, namespace, name].compactMap { $0 }.joined(separator: "/"), sourceType: "\(api)/\(kind)", type: "", key: nil,
          document: Self.redacted(item)))
      }
    }
    guard !declared.isEmpty else { throw IaCError("", "no Kubernetes objects in the file") }
    return ParsedDefinition(format: .kubernetes, resources: declared, unsupported: [:])
  }

  /// A Secret's values are never kept.
  static func redacted(_ item: JSONValue) -> JSONValue {
    if item["kind"]?.stringValue == "List", case .object(var o) = item, let items = o["items"]?.arrayValue {
      o["items"] = .array(items.map(Self.redacted))
      return .object(o)
    }
    guard item["kind"]?.stringValue == "Secret", case .object(var o) = item else { return item }
    for field in ["data", "stringData"] {
      if let values = o[field]?.objectValue { o[field] = .object(values.mapValues { _ in IaC.redactedValue }) }
    }
    return .object(o)
  }
}
