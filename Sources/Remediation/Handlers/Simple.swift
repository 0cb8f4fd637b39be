import FixpointCore
import FixpointProtocol
import SwiftProtobuf

// Handlers that set one field to one value. Each is its own type so the catalogue and its tests
// name them; `SettingHandler` holds what they share.

/// Sets `path` to `value` on resources of one type.
protocol SettingHandler: RemediationHandler {
  var path: String { get }
  var value: Google_Protobuf_Value { get }
  func describe(_ resource: Fixpoint_V1_Resource) -> String
}

extension SettingHandler {
  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    return HandlerPlan(operations: [Self.op(self.path, self.value)], description: self.describe(resource), risk: self.info.risk)
  }
}

struct S3BucketPublicAccessBlock: SettingHandler {
  let info = HandlerInfo(
    name: "S3BucketPublicAccessBlock", description: "Turn on all four public access block settings of an S3 bucket",
    controlIDs: ["S3.8", "S3.2", "S3.3", "cis-3.0/2.1.4", "cis-3.0/2.1.4.2"], findingTypes: ["s3-bucket-public-access"], resourceTypes: ["s3_bucket"], tier: .t1AutoSafe,
    risk: .low, permissions: ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"], reversible: true)
  let path = "public_access_block"
  let value = Google_Protobuf_Value(structValue: ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true])
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Block all public access to S3 bucket \(r.name)" }
}

struct S3AccountPublicAccessBlock: SettingHandler {
  let info = HandlerInfo(
    name: "S3AccountPublicAccessBlock", description: "Turn on the account-wide S3 public access block",
    controlIDs: ["S3.1", "cis-3.0/2.1.4", "cis-3.0/2.1.4.1"], resourceTypes: ["s3_account_public_access_block"], tier: .t2Verify, risk: .medium,
    permissions: ["s3:PutAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"], reversible: true)
  let path = "public_access_block"
  let value = Google_Protobuf_Value(structValue: ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true])
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Block public access to every S3 bucket of the account (\(r.name))" }
}

struct IMDSv2Enforcement: SettingHandler {
  let info = HandlerInfo(
    name: "IMDSv2Enforcement", description: "Require IMDSv2 session tokens on an EC2 instance",
    controlIDs: ["EC2.8", "cis-3.0/5.6"], resourceTypes: ["ec2_instance"], tier: .t2Verify, risk: .medium,
    permissions: ["ec2:ModifyInstanceMetadataOptions", "ec2:DescribeInstances"], reversible: true)
  let path = "metadata_options.http_tokens"
  let value: Google_Protobuf_Value = "required"
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Require IMDSv2 (http_tokens=required) on EC2 instance \(r.name)" }
}

struct GuardDutyEnablement: SettingHandler {
  let info = HandlerInfo(
    name: "GuardDutyEnablement", description: "Enable GuardDuty in a region",
    controlIDs: ["GuardDuty.1"], resourceTypes: ["guardduty_detector"], tier: .t1AutoSafe, risk: .low,
    permissions: ["guardduty:CreateDetector", "guardduty:UpdateDetector", "guardduty:ListDetectors", "guardduty:GetDetector"], reversible: true)
  let path = "enabled"
  let value: Google_Protobuf_Value = true
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Enable GuardDuty in \(r.region)" }
}

struct RDSPublicAccessDisable: SettingHandler {
  let info = HandlerInfo(
    name: "RDSPublicAccessDisable", description: "Make an RDS instance not publicly accessible",
    controlIDs: ["RDS.2", "cis-3.0/2.3.3"], resourceTypes: ["rds_instance"], tier: .t3ChangeWindow, risk: .high,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)
  let path = "publicly_accessible"
  let value: Google_Protobuf_Value = false
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Turn off public accessibility of RDS instance \(r.name)" }
}

struct RDSDeletionProtection: SettingHandler {
  let info = HandlerInfo(
    name: "RDSDeletionProtection", description: "Turn on deletion protection of an RDS instance",
    controlIDs: ["RDS.8"], resourceTypes: ["rds_instance"], tier: .t1AutoSafe, risk: .low,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)
  let path = "deletion_protection"
  let value: Google_Protobuf_Value = true
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Turn on deletion protection of RDS instance \(r.name)" }
}

struct CloudTrailLogFileValidation: SettingHandler {
  let info = HandlerInfo(
    name: "CloudTrailLogFileValidation", description: "Turn on log file validation of a CloudTrail trail",
    controlIDs: ["CloudTrail.4", "cis-3.0/3.2"], resourceTypes: ["cloudtrail_trail"], tier: .t1AutoSafe, risk: .low,
    permissions: ["cloudtrail:UpdateTrail", "cloudtrail:DescribeTrails"], reversible: true)
  let path = "log_file_validation_enabled"
  let value: Google_Protobuf_Value = true
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Turn on log file validation of CloudTrail trail \(r.name)" }
}

struct KMSKeyRotation: SettingHandler {
  let info = HandlerInfo(
    name: "KMSKeyRotation", description: "Turn on yearly rotation of a customer-managed KMS key",
    controlIDs: ["KMS.4", "cis-3.0/3.6"], resourceTypes: ["kms_key"], tier: .t1AutoSafe, risk: .low,
    permissions: ["kms:EnableKeyRotation", "kms:GetKeyRotationStatus"], reversible: true)
  let path = "rotation_enabled"
  let value: Google_Protobuf_Value = true
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Turn on automatic rotation of KMS key \(r.name)" }

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    guard resource.field("key_manager")?.stringValue == "CUSTOMER", resource.field("key_spec")?.stringValue == "SYMMETRIC_DEFAULT" else {
      throw .failedPrecondition("only customer-managed symmetric keys can rotate automatically")
    }
    return HandlerPlan(operations: [Self.op(self.path, self.value)], description: self.describe(resource), risk: self.info.risk)
  }
}

struct EBSDefaultEncryption: SettingHandler {
  let info = HandlerInfo(
    name: "EBSDefaultEncryption", description: "Encrypt new EBS volumes by default in a region",
    controlIDs: ["EC2.7", "cis-3.0/2.2.1"], resourceTypes: ["ebs_encryption_default"], tier: .t1AutoSafe, risk: .low,
    permissions: ["ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"], reversible: true)
  let path = "enabled"
  let value: Google_Protobuf_Value = true
  func describe(_ r: Fixpoint_V1_Resource) -> String { "Encrypt new EBS volumes by default in \(r.region)" }
}

/// Backups: at least 7 days of retention (a longer retention is kept as it is).
struct RDSBackupEnablement: RemediationHandler {
  let info = HandlerInfo(
    name: "RDSBackupEnablement", description: "Keep automated backups of an RDS instance for at least 7 days",
    controlIDs: ["RDS.11"], findingTypes: ["rds-backup-disabled"], resourceTypes: ["rds_instance"], tier: .t1AutoSafe, risk: .low,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    let current = Int(resource.field("backup_retention_period")?.numberValue ?? 0)
    let target = max(7, current)
    return HandlerPlan(
      operations: [Self.op("backup_retention_period", .init(numberValue: Double(target)))],
      description: "Keep automated backups of RDS instance \(resource.name) for \(target) days", risk: self.info.risk)
  }
}

/// SSE-S3, or SSE-KMS with the configured key.
struct S3DefaultEncryption: RemediationHandler {
  let info = HandlerInfo(
    name: "S3DefaultEncryption", description: "Turn on default encryption of an S3 bucket (SSE-S3, or SSE-KMS by configuration)",
    controlIDs: ["S3.17", "S3.4"], findingTypes: ["s3-bucket-unencrypted"], resourceTypes: ["s3_bucket"], tier: .t1AutoSafe, risk: .low,
    permissions: ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"], reversible: true)

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    if config.s3KMSKey.isEmpty {
      return HandlerPlan(
        operations: [Self.op("encryption", .init(structValue: ["sse_algorithm": "AES256", "bucket_key_enabled": false]))],
        description: "Enable S3 default encryption (SSE-S3) on bucket \(resource.name)", risk: self.info.risk)
    }
    return HandlerPlan(
      operations: [Self.op("encryption", .init(structValue: ["sse_algorithm": "aws:kms", "kms_key_id": Google_Protobuf_Value(stringValue: config.s3KMSKey), "bucket_key_enabled": true]))],
      description: "Enable S3 default encryption (SSE-KMS with \(config.s3KMSKey)) on bucket \(resource.name)", risk: self.info.risk)
  }
}
