import FixpointDocuments
import Foundation

/// Terraform's AWS resources as inventory's documents: one converter per resource type, and the
/// split resources (S3 bucket settings, security group rules) joined onto their bucket or group.
extension Terraform {
  /// What a split resource adds to the resource it belongs to.
  private struct Part {
    var targetType: String
    /// The bucket name or group id it names, when known.
    var key: String?
    /// The argument that names it, to follow the plan's references when the key is unknown.
    var argument: String
    var apply: (inout [String: JSONValue]) -> Void
  }

  static func declared(_ instances: [Instance], format: IaCFormat, references: [String: [String: String]]) -> ParsedDefinition {
    var resources: [DeclaredResource] = []
    var unsupported: [String: Int] = [:]
    var parts: [(Instance, Part)] = []
    for instance in instances {
      if let resource = Self.primary(instance) {
        resources.append(resource)
      } else if let part = Self.part(instance) {
        parts.append((instance, part))
      } else {
        unsupported[instance.type, default: 0] += 1
      }
    }
    var byKey: [String: Int] = [:]
    var byBlock: [String: [Int]] = [:]
    for (i, r) in resources.enumerated() {
      if let key = r.key { byKey["\(r.type) \(key)"] = i }
      byBlock[Self.unkeyed(r.address), default: []].append(i)
    }
    for (instance, part) in parts {
      var target: Int?
      if let key = part.key { target = byKey["\(part.targetType) \(key)"] }
      if target == nil, let ref = references[Self.unkeyed(instance.block)]?[part.argument], let candidates = byBlock[ref] {
        // Under count/for_each, the instance with the same key; otherwise the one block.
        let suffix = String(instance.address.dropFirst(instance.block.count))
        target = candidates.first { resources[$0].address.hasSuffix(suffix) && !suffix.isEmpty } ?? (candidates.count == 1 ? candidates[0] : nil)
      }
      if let target {
        var fields = resources[target].document.objectValue ?? [:]
        part.apply(&fields)
        resources[target].document = .object(fields)
      } else if let key = part.key {
        // A setting of a bucket or group this definition does not declare: it manages that much.
        var fields: [String: JSONValue] = [:]
        part.apply(&fields)
        let resource = DeclaredResource(
          address: instance.address, sourceType: instance.type, type: part.targetType, key: key, document: .object(fields), action: instance.action)
        byKey["\(part.targetType) \(key)"] = resources.count
        resources.append(resource)
      } else {
        unsupported[instance.type, default: 0] += 1
      }
    }
    return ParsedDefinition(format: format, resources: resources, unsupported: unsupported)
  }

  /// `module.a["x"].aws_s3_bucket.b[0]` → `module.a.aws_s3_bucket.b`, as the configuration names it.
  static func unkeyed(_ address: String) -> String {
    var out = ""
    var depth = 0
    for c in address {
      if c == "[" { depth += 1 } else if c == "]" { depth -= 1 } else if depth == 0 { out.append(c) }
    }
    return out
  }

  // MARK: Resources with a live counterpart

  private static func primary(_ instance: Instance) -> DeclaredResource? {
    let a = instance.attributes
    var d: [String: JSONValue] = [:]
    var implied: [String: JSONValue] = [:]
    let type: String
    var key: String?
    func copy(_ from: String, _ to: String? = nil) { if let v = a[from], v != .null { d[to ?? from] = v } }
    switch instance.type {
    case "aws_s3_bucket":
      type = ResourceTypeName.s3Bucket
      key = Self.known(a["bucket"]) ?? Self.known(a["id"])
      d["tags"] = Self.tags(a)
      if let rule = Self.block(Self.block(a["server_side_encryption_configuration"])?["rule"]) { d["encryption"] = Self.encryption(rule) }
      if Self.block(a["versioning"])?["enabled"] == .bool(true) { d["versioning"] = "Enabled" }
      if let logging = Self.block(a["logging"]) { d["logging"] = Self.logging(logging) }
      // A policy known only after apply is whatever an aws_s3_bucket_policy sets (joined below).
      if let policy = a["policy"], policy != .string(""), policy != Declared.unknown { d["policy"] = Self.policy(policy) }
    case "aws_security_group":
      type = ResourceTypeName.securityGroup
      key = Self.known(a["id"]) ?? Self.known(a["name"]).map { "name:\($0)" }
      copy("name")
      copy("description")
      copy("vpc_id")
      let own = Self.known(a["id"])
      for field in ["ingress", "egress"] {
        guard let blocks = a[field]?.arrayValue else { continue }
        var rules: [String: JSONValue] = [:]
        for block in blocks { Self.rules(fromInline: block, group: own, into: &rules) }
        d[field] = .object(rules)
      }
      d["tags"] = Self.tags(a)
    case "aws_instance":
      type = ResourceTypeName.ec2Instance
      key = Self.known(a["id"])
      copy("instance_type")
      if let m = Self.block(a["metadata_options"]) {
        d["metadata_options"] = .object(m.filter { ["http_tokens", "http_endpoint", "http_put_response_hop_limit"].contains($0.key) && $0.value != .null })
      }
      if let groups = a["vpc_security_group_ids"]?.arrayValue { d["security_groups"] = .array(groups.sorted { $0.description < $1.description }) }
      d["tags"] = Self.tags(a)
      switch a["associate_public_ip_address"] {
      case .bool(true)?: implied["public_ip"] = Declared.assigned
      case .bool(false)?: implied["public_ip"] = .null
      default: implied["public_ip"] = Declared.unknown  // the subnet decides
      }
    case "aws_db_instance":
      type = ResourceTypeName.rdsInstance
      key = Self.known(a["identifier"])
      for field in ["publicly_accessible", "backup_retention_period", "deletion_protection", "auto_minor_version_upgrade", "storage_encrypted",
                    "multi_az", "engine"] { copy(field) }
      d["tags"] = Self.tags(a)
    case "aws_kms_key":
      type = ResourceTypeName.kmsKey
      key = Self.known(a["key_id"]) ?? Self.known(a["id"])
      copy("enable_key_rotation", "rotation_enabled")
      copy("description")
      implied["key_manager"] = "CUSTOMER"
      implied["key_spec"] = a["customer_master_key_spec"].flatMap { $0 == .null ? nil : $0 } ?? "SYMMETRIC_DEFAULT"
      implied["key_state"] = a["is_enabled"] == .bool(false) ? "Disabled" : "Enabled"
    case "aws_cloudtrail":
      type = ResourceTypeName.cloudTrailTrail
      key = Self.known(a["name"])
      copy("is_multi_region_trail")
      copy("enable_log_file_validation", "log_file_validation_enabled")
      copy("enable_logging", "is_logging")
      copy("s3_bucket_name")
      copy("include_global_service_events")
      if let k = a["kms_key_id"] { d["kms_key_id"] = k == .string("") ? .null : k }
    case "aws_guardduty_detector":
      type = ResourceTypeName.guardDutyDetector
      key = Self.known(a["id"])
      copy("enable", "enabled")
      copy("finding_publishing_frequency")
    case "aws_ebs_encryption_by_default":
      type = ResourceTypeName.ebsEncryptionDefault
      copy("enabled")
    case "aws_iam_user":
      type = ResourceTypeName.iamUser
      key = Self.known(a["name"])
    default:
      return nil
    }
    // A resource to be created has no id yet: it can only be missing until it is applied.
    return DeclaredResource(
      address: instance.address, sourceType: instance.type, type: type, key: key ?? (type == ResourceTypeName.ebsEncryptionDefault ? nil : ""),
      region: Self.known(a["region"]), document: .object(d), action: instance.action, implied: implied)
  }

  // MARK: Split resources

  private static func part(_ instance: Instance) -> Part? {
    let a = instance.attributes
    let bucket = Self.known(a["bucket"])
    let s3 = ResourceTypeName.s3Bucket
    switch instance.type {
    case "aws_s3_bucket_public_access_block":
      let flags = ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"]
      let block = JSONValue.object(Dictionary(uniqueKeysWithValues: flags.map { ($0, a[$0].flatMap { $0 == .null ? nil : $0 } ?? .bool(false)) }))
      return Part(targetType: s3, key: bucket, argument: "bucket") { $0["public_access_block"] = block }
    case "aws_s3_bucket_server_side_encryption_configuration":
      guard let rule = Self.block(a["rule"]) else { return nil }
      let encryption = Self.encryption(rule)
      return Part(targetType: s3, key: bucket, argument: "bucket") { $0["encryption"] = encryption }
    case "aws_s3_bucket_versioning":
      let configuration = Self.block(a["versioning_configuration"])
      let status = configuration?["status"] ?? Declared.unknown
      let mfaDelete = configuration?["mfa_delete"].flatMap { $0 == .null || $0 == .string("") ? nil : $0 }
      return Part(targetType: s3, key: bucket, argument: "bucket") { fields in
        fields["versioning"] = status
        if let mfaDelete { fields["mfa_delete"] = mfaDelete }
      }
    case "aws_s3_bucket_logging":
      let logging = Self.logging(a.objectValue ?? [:])
      return Part(targetType: s3, key: bucket, argument: "bucket") { $0["logging"] = logging }
    case "aws_s3_bucket_acl":
      // The grants a canned ACL or an access_control_policy gives are only known once S3 expands
      // them (owner ids): never compared, and public-access controls are not decided from them.
      return Part(targetType: s3, key: bucket, argument: "bucket") { $0["acl_grants"] = Declared.unknown }
    case "aws_s3_bucket_policy":
      let policy = Self.policy(a["policy"] ?? .null)
      return Part(targetType: s3, key: bucket, argument: "bucket") { $0["policy"] = policy }
    case "aws_security_group_rule":
      let group = Self.known(a["security_group_id"])
      let field = a["type"]?.stringValue == "egress" ? "egress" : "ingress"
      var rules: [String: JSONValue] = [:]
      var block = a.objectValue ?? [:]
      block["security_groups"] = a["source_security_group_id"].map { .array([$0]) } ?? .null
      Self.rules(fromInline: .object(block), group: group, into: &rules)
      return Part(targetType: ResourceTypeName.securityGroup, key: group, argument: "security_group_id") { fields in
        var current = fields[field]?.objectValue ?? [:]
        current.merge(rules) { $1 }
        fields[field] = .object(current)
      }
    case "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule":
      let group = Self.known(a["security_group_id"])
      let field = instance.type.contains("egress") ? "egress" : "ingress"
      let sources: [(String, String)] = [("cidr_ipv4", "cidr_ipv4"), ("cidr_ipv6", "cidr_ipv6"), ("prefix_list_id", "prefix_list_id"),
                                         ("referenced_security_group_id", "referenced_group_id")]
      guard let (from, to) = sources.first(where: { a[$0.0].map { $0 != .null } ?? false }), let source = a[from] else { return nil }
      let (key, rule) = Self.rule(protocol: a["ip_protocol"] ?? "-1", from: a["from_port"] ?? .null, to: a["to_port"] ?? .null,
                                  description: a["description"] ?? .null, sourceField: to, source: source)
      return Part(targetType: ResourceTypeName.securityGroup, key: group, argument: "security_group_id") { fields in
        var current = fields[field]?.objectValue ?? [:]
        current[key] = rule
        fields[field] = .object(current)
      }
    default:
      return nil
    }
  }

  // MARK: Values

  /// A string value that is known and not empty.
  static func known(_ value: JSONValue?) -> String? {
    guard let s = value?.stringValue, !s.isEmpty, value != Declared.unknown else { return nil }
    return s
  }

  /// A nested block: Terraform writes even a single block as a one-item array.
  static func block(_ value: JSONValue?) -> [String: JSONValue]? {
    if let items = value?.arrayValue { return items.first?.objectValue }
    return value?.objectValue
  }

  /// `tags_all` (tags with the provider's default tags, what the cloud holds), else `tags`; no
  /// tags when both are null; nil (not declared) when the definition has neither attribute.
  static func tags(_ a: JSONValue) -> JSONValue? {
    for field in ["tags_all", "tags"] {
      if let v = a[field], v != .null { return v }
    }
    return a["tags_all"] != nil || a["tags"] != nil ? .object([:]) : nil
  }

  static func encryption(_ rule: [String: JSONValue]) -> JSONValue {
    let byDefault = Self.block(rule["apply_server_side_encryption_by_default"]) ?? [:]
    var out: [String: JSONValue] = [
      "sse_algorithm": byDefault["sse_algorithm"] ?? Declared.unknown,
      "bucket_key_enabled": rule["bucket_key_enabled"].flatMap { $0 == .null ? nil : $0 } ?? .bool(false),
    ]
    if let key = byDefault["kms_master_key_id"], key != .string(""), key != .null { out["kms_key_id"] = key }
    return .object(out)
  }

  static func logging(_ block: [String: JSONValue]) -> JSONValue {
    .object(["target_bucket": block["target_bucket"] ?? .null, "target_prefix": block["target_prefix"] ?? .string("")])
  }

  /// A policy is JSON in a string: compared as the document it holds.
  static func policy(_ value: JSONValue) -> JSONValue {
    guard let text = value.stringValue, value != Declared.unknown else { return value }
    return (try? JSONValue.parse(Data(text.utf8))) ?? value
  }

  /// One inline `ingress`/`egress` block (or an `aws_security_group_rule`): a rule per source,
  /// keyed as inventory keys them (`tcp 22-22 0.0.0.0/0`, `all sg-…`).
  static func rules(fromInline block: JSONValue, group: String?, into rules: inout [String: JSONValue]) {
    var sources: [(String, JSONValue)] = []
    for (field, as_) in [("cidr_blocks", "cidr_ipv4"), ("ipv6_cidr_blocks", "cidr_ipv6"), ("prefix_list_ids", "prefix_list_id"),
                         ("security_groups", "referenced_group_id")] {
      if block[field] == Declared.unknown { sources.append((as_, Declared.unknown)); continue }
      for source in block[field]?.arrayValue ?? [] { sources.append((as_, source)) }
    }
    if block["self"] == .bool(true) { sources.append(("referenced_group_id", group.map(JSONValue.string) ?? Declared.unknown)) }
    for (field, source) in sources {
      let (key, rule) = Self.rule(protocol: block["protocol"] ?? "-1", from: block["from_port"] ?? .null, to: block["to_port"] ?? .null,
                                  description: block["description"] ?? .null, sourceField: field, source: source)
      rules[key] = rule
    }
  }

  static func rule(protocol ipProtocol: JSONValue, from: JSONValue, to: JSONValue, description: JSONValue, sourceField: String, source: JSONValue)
    -> (String, JSONValue)
  {
    let proto = Self.protocolName(ipProtocol)
    let sourceText = source == Declared.unknown ? Declared.unknownText : (source.stringValue ?? source.description)
    var rule: [String: JSONValue] = [
      "protocol": proto.map(JSONValue.string) ?? Declared.unknown, "description": description == .null ? "" : description, sourceField: source,
    ]
    let key: String
    if proto == "-1" {
      // All traffic has no ports; AWS reports them as it likes.
      (rule["from_port"], rule["to_port"]) = (Declared.unknown, Declared.unknown)
      key = "all \(sourceText)"
    } else {
      (rule["from_port"], rule["to_port"]) = (from, to)
      let text = { (v: JSONValue) in v.intValue.map(String.init) ?? Declared.unknownText }
      key = "\(proto ?? Declared.unknownText) \(text(from))-\(text(to)) \(sourceText)"
    }
    return (key, .object(rule))
  }

  /// Terraform accepts names and numbers; AWS reports the names of TCP, UDP and ICMP.
  static func protocolName(_ value: JSONValue) -> String? {
    guard value != Declared.unknown else { return nil }
    let text = (value.stringValue ?? value.intValue.map(String.init) ?? "-1").lowercased()
    switch text {
    case "all", "-1": return "-1"
    case "6": return "tcp"
    case "17": return "udp"
    case "1": return "icmp"
    case "58": return "icmpv6"
    default: return text
    }
  }
}
