/// The resource types' names, as inventory records them and every service refers to them.
public enum ResourceTypeName {
  public static let s3Bucket = "s3_bucket"
  public static let s3AccountPublicAccessBlock = "s3_account_public_access_block"
  public static let securityGroup = "security_group"
  public static let ec2Instance = "ec2_instance"
  public static let ebsVolume = "ebs_volume"
  public static let ebsEncryptionDefault = "ebs_encryption_default"
  public static let vpc = "vpc"
  public static let iamUser = "iam_user"
  public static let iamPasswordPolicy = "iam_password_policy"
  public static let rdsInstance = "rds_instance"
  public static let cloudTrailTrail = "cloudtrail_trail"
  public static let guardDutyDetector = "guardduty_detector"
  public static let kmsKey = "kms_key"
  public static let subnet = "subnet"
  public static let networkACL = "network_acl"
  public static let ebsSnapshot = "ebs_snapshot"
  public static let lambdaFunction = "lambda_function"
  public static let cloudTrailAccount = "cloudtrail_account"
}

/// What is known about one resource type's configuration document without calling anything
/// (docs/resources.md): its fields, which of them a change can write, which hold sets rather than
/// ordered lists, which change by themselves (timestamps, counters) and which keys of map entries
/// the cloud assigns anew (rule ids), so that comparing, diffing and planning agree everywhere.
public struct ResourceSchema: Sendable {
  public var type: String
  /// Every top-level field a document of this type may have.
  public var fields: Set<String>
  /// The fields ApplyChange and RestoreSnapshot can set.
  public var writable: Set<String>
  /// Fields whose arrays are sets: order never matters.
  public var sets: Set<String>
  /// Fields (or `field.*.key` entry keys) that change without anyone changing the configuration:
  /// last-used dates, counts of users, run states. They are never drift.
  public var volatile: Set<DocumentPath>
  /// Field → keys of its map entries that the cloud assigns when the entry is (re)created.
  public var assignedKeys: [String: Set<String>]

  public init(
    _ type: String, fields: Set<String>, writable: Set<String>, sets: Set<String> = [],
    volatile: [String] = [], assignedKeys: [String: Set<String>] = [:]
  ) {
    self.type = type
    // Any document may say which of its fields could not be read.
    self.fields = fields.union(writable).union([Unreadable.key])
    self.writable = writable
    self.sets = sets
    self.volatile = Set(volatile.map { DocumentPath(segments: $0.split(separator: ".").map(String.init)) })
    self.assignedKeys = assignedKeys
  }

  /// A field as compared: without the keys the cloud assigns, sets in a stable order.
  public func comparable(_ field: String, _ value: JSONValue) -> JSONValue {
    var value = value
    if let keys = self.assignedKeys[field] { value = value.removingKeysOfEntries(keys) }
    if self.sets.contains(field), case .array(let items) = value {
      value = .array(items.sorted { $0.description < $1.description })
    }
    return value
  }

  /// The whole document in its comparable form.
  public func comparable(_ document: JSONValue) -> JSONValue {
    // Only the fields a rule applies to are rewritten; the rest of the document is shared.
    guard case .object(var fields) = document, !(self.sets.isEmpty && self.assignedKeys.isEmpty) else { return document }
    for field in self.sets.union(self.assignedKeys.keys) {
      if let value = fields[field] { fields[field] = self.comparable(field, value) }
    }
    return .object(fields)
  }

  /// The document without its volatile values (`*` in a volatile path matches any map key).
  public func withoutVolatile(_ document: JSONValue) -> JSONValue {
    var out = document
    for path in self.volatile { out = Self.removing(path.segments[...], from: out) }
    return out
  }

  private static func removing(_ segments: ArraySlice<String>, from value: JSONValue) -> JSONValue {
    guard let first = segments.first, case .object(var object) = value else { return value }
    let rest = segments.dropFirst()
    let keys = first == "*" ? Array(object.keys) : [first]
    for key in keys where object[key] != nil {
      if rest.isEmpty { object[key] = nil } else { object[key] = Self.removing(rest, from: object[key]!) }
    }
    return .object(object)
  }
}

extension ResourceSchema {
  /// Every type inventory knows.
  public static let all: [ResourceSchema] = [
    ResourceSchema(
      ResourceTypeName.s3Bucket, fields: ["name", "region", "acl_grants", "mfa_delete"],
      writable: ["encryption", "public_access_block", "policy", "versioning", "logging", "tags"]),
    ResourceSchema(ResourceTypeName.s3AccountPublicAccessBlock, fields: [], writable: ["public_access_block"]),
    ResourceSchema(
      ResourceTypeName.securityGroup, fields: ["id", "name", "description", "vpc_id", "network_interface_count"],
      writable: ["ingress", "egress", "tags"], volatile: ["network_interface_count"],
      assignedKeys: ["ingress": ["rule_id"], "egress": ["rule_id"]]),
    ResourceSchema(
      ResourceTypeName.ec2Instance, fields: ["id", "state", "instance_type", "public_ip", "subnet_id", "vpc_id"],
      writable: ["metadata_options", "security_groups", "tags"], sets: ["security_groups"], volatile: ["state"]),
    ResourceSchema(
      ResourceTypeName.ebsVolume,
      fields: ["id", "encrypted", "kms_key_id", "size_gib", "volume_type", "state", "attached_instances"],
      writable: ["tags"], sets: ["attached_instances"], volatile: ["state"]),
    ResourceSchema(ResourceTypeName.ebsEncryptionDefault, fields: [], writable: ["enabled"]),
    ResourceSchema(
      ResourceTypeName.vpc, fields: ["id", "cidr_block", "is_default", "state"], writable: ["flow_logs", "tags"],
      volatile: ["state"], assignedKeys: ["flow_logs": ["flow_log_id", "status"]]),
    ResourceSchema(
      ResourceTypeName.iamUser,
      fields: ["user_name", "user_id", "created", "console_password", "password_last_used", "mfa_devices",
               "attached_policies", "inline_policies", "tags"],
      writable: ["access_keys"], sets: ["mfa_devices", "attached_policies", "inline_policies"],
      volatile: ["password_last_used", "access_keys.*.last_used_date", "access_keys.*.last_used_service"]),
    ResourceSchema(ResourceTypeName.iamPasswordPolicy, fields: [], writable: ["policy"]),
    ResourceSchema(
      ResourceTypeName.rdsInstance, fields: ["identifier", "engine", "status", "storage_encrypted", "multi_az", "tags"],
      writable: ["backup_retention_period", "publicly_accessible", "deletion_protection", "auto_minor_version_upgrade"],
      volatile: ["status"]),
    ResourceSchema(
      ResourceTypeName.cloudTrailTrail, fields: ["name", "home_region", "s3_bucket_name", "include_global_service_events"],
      writable: ["is_logging", "log_file_validation_enabled", "is_multi_region_trail", "kms_key_id"]),
    ResourceSchema(
      ResourceTypeName.guardDutyDetector, fields: ["detector_id"], writable: ["enabled", "finding_publishing_frequency"]),
    ResourceSchema(
      ResourceTypeName.kmsKey, fields: ["key_id", "key_state", "key_manager", "key_spec", "description"],
      writable: ["rotation_enabled"]),
    ResourceSchema(
      ResourceTypeName.subnet, fields: ["id", "vpc_id", "cidr_block", "availability_zone"],
      writable: ["map_public_ip_on_launch", "assign_ipv6_address_on_creation", "tags"]),
    ResourceSchema(
      ResourceTypeName.networkACL, fields: ["id", "vpc_id", "is_default", "subnets"], writable: ["ingress", "egress", "tags"],
      sets: ["subnets"]),
    ResourceSchema(
      ResourceTypeName.ebsSnapshot, fields: ["id", "volume_id", "encrypted", "state", "start_time"],
      writable: ["create_volume_permission", "tags"], volatile: ["state"]),
    ResourceSchema(
      ResourceTypeName.lambdaFunction, fields: ["name", "runtime", "role", "last_modified"], writable: ["policy_statements", "tags"],
      volatile: ["last_modified"]),
    ResourceSchema(ResourceTypeName.cloudTrailAccount, fields: ["trails"], writable: []),
  ]

  public static let byType: [String: ResourceSchema] = Dictionary(uniqueKeysWithValues: all.map { ($0.type, $0) })

  /// The schema of `type`; an unknown type gets one that knows no fields and compares values as they are.
  public static func of(_ type: String) -> ResourceSchema {
    self.byType[type] ?? ResourceSchema(type, fields: [], writable: [])
  }
}
