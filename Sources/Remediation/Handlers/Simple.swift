import FixpointControls
import FixpointCore

// Handlers whose fix is exactly their control's remedy. Each is its own type so the catalogue and
// its tests name them; `ControlHandler` holds what they share.

/// A handler that plans with its control's remedy.
protocol ControlHandler: RemediationHandler {
  func describe(_ resource: InventoryResource) -> String
}

extension ControlHandler {
  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.controlPlan(resource, control, config, describe: self.describe)
  }
}

struct S3BucketPublicAccessBlock: ControlHandler {
  let info = HandlerInfo(
    name: "S3BucketPublicAccessBlock", description: "Turn on all four public access block settings of an S3 bucket",
    fixes: ["S3.8", "S3.2", "S3.3"], aliases: ["cis-3.0/2.1.4.2"], findingTypes: ["s3-bucket-public-access"], resourceTypes: ["s3_bucket"],
    tier: .autoSafe, risk: .low, permissions: ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Block all public access to S3 bucket \(r.name)" }
}

struct S3AccountPublicAccessBlock: ControlHandler {
  let info = HandlerInfo(
    name: "S3AccountPublicAccessBlock", description: "Turn on the account-wide S3 public access block",
    fixes: ["S3.1"], aliases: ["cis-3.0/2.1.4.1"], resourceTypes: ["s3_account_public_access_block"], tier: .verify, risk: .medium,
    permissions: ["s3:PutAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Block public access to every S3 bucket of the account (\(r.name))" }
}

struct IMDSv2Enforcement: ControlHandler {
  let info = HandlerInfo(
    name: "IMDSv2Enforcement", description: "Require IMDSv2 session tokens on an EC2 instance",
    fixes: ["EC2.8"], resourceTypes: ["ec2_instance"], tier: .verify, risk: .medium,
    permissions: ["ec2:ModifyInstanceMetadataOptions", "ec2:DescribeInstances"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Require IMDSv2 (http_tokens=required) on EC2 instance \(r.name)" }
}

struct GuardDutyEnablement: ControlHandler {
  let info = HandlerInfo(
    name: "GuardDutyEnablement", description: "Enable GuardDuty in a region",
    fixes: ["GuardDuty.1"], resourceTypes: ["guardduty_detector"], tier: .autoSafe, risk: .low,
    permissions: ["guardduty:CreateDetector", "guardduty:UpdateDetector", "guardduty:ListDetectors", "guardduty:GetDetector"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Enable GuardDuty in \(r.region)" }
}

struct RDSPublicAccessDisable: ControlHandler {
  let info = HandlerInfo(
    name: "RDSPublicAccessDisable", description: "Make an RDS instance not publicly accessible",
    fixes: ["RDS.2"], resourceTypes: ["rds_instance"], tier: .changeWindow, risk: .high,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Turn off public accessibility of RDS instance \(r.name)" }
}

struct RDSDeletionProtection: ControlHandler {
  let info = HandlerInfo(
    name: "RDSDeletionProtection", description: "Turn on deletion protection of an RDS instance",
    fixes: ["RDS.8"], resourceTypes: ["rds_instance"], tier: .autoSafe, risk: .low,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Turn on deletion protection of RDS instance \(r.name)" }
}

struct CloudTrailLogFileValidation: ControlHandler {
  let info = HandlerInfo(
    name: "CloudTrailLogFileValidation", description: "Turn on log file validation of a CloudTrail trail",
    fixes: ["CloudTrail.4"], resourceTypes: ["cloudtrail_trail"], tier: .autoSafe, risk: .low,
    permissions: ["cloudtrail:UpdateTrail", "cloudtrail:DescribeTrails"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Turn on log file validation of CloudTrail trail \(r.name)" }
}

/// Only customer-managed symmetric keys rotate: KMS.4 does not apply to others, so they are refused.
struct KMSKeyRotation: ControlHandler {
  let info = HandlerInfo(
    name: "KMSKeyRotation", description: "Turn on yearly rotation of a customer-managed KMS key",
    fixes: ["KMS.4"], resourceTypes: ["kms_key"], tier: .autoSafe, risk: .low,
    permissions: ["kms:EnableKeyRotation", "kms:GetKeyRotationStatus"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Turn on automatic rotation of KMS key \(r.name)" }
}

struct EBSDefaultEncryption: ControlHandler {
  let info = HandlerInfo(
    name: "EBSDefaultEncryption", description: "Encrypt new EBS volumes by default in a region",
    fixes: ["EC2.7"], resourceTypes: ["ebs_encryption_default"], tier: .autoSafe, risk: .low,
    permissions: ["ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Encrypt new EBS volumes by default in \(r.region)" }
}

/// Backups kept at least RDS.11's minimum retention.
struct RDSBackupEnablement: ControlHandler {
  let info = HandlerInfo(
    name: "RDSBackupEnablement", description: "Keep automated backups of an RDS instance for at least 7 days",
    fixes: ["RDS.11"], findingTypes: ["rds-backup-disabled"], resourceTypes: ["rds_instance"], tier: .autoSafe, risk: .low,
    permissions: ["rds:ModifyDBInstance", "rds:DescribeDBInstances"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Keep automated backups of RDS instance \(r.name) for at least 7 days" }
}

/// SSE-KMS (S3.17): with `dispatcher.s3.encryption.kms.key`, or the AWS managed key. A bucket
/// already on SSE-KMS or DSSE-KMS passes, so it is never moved to SSE-S3.
struct S3DefaultEncryption: ControlHandler {
  let info = HandlerInfo(
    name: "S3DefaultEncryption", description: "Encrypt an S3 bucket by default with a KMS key (SSE-KMS)",
    fixes: ["S3.17"], aliases: ["S3.4"], findingTypes: ["s3-bucket-unencrypted"], resourceTypes: ["s3_bucket"], tier: .autoSafe, risk: .low,
    permissions: ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "kms:GenerateDataKey"], reversible: true)
  func describe(_ r: InventoryResource) -> String { "Encrypt S3 bucket \(r.name) by default with SSE-KMS" }
}
