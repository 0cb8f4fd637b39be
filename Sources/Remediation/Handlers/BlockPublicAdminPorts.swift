import FixpointControls
import FixpointCore
import FixpointDocuments
import Foundation

/// Revokes only the ingress rules the finding's port control fails on (EC2.53/54: SSH and RDP
/// over IPv4/IPv6; EC2.19: the high-risk ports; EC2.13/14: the legacy 22/3389), keeping every
/// other rule. A group many interfaces use is a higher risk.
struct BlockPublicAdminPorts: RemediationHandler {
  let info = HandlerInfo(
    name: "BlockPublicAdminPorts",
    description: "Revoke security group rules that open SSH, RDP or other high-risk ports to 0.0.0.0/0 or ::/0",
    fixes: ["EC2.53", "EC2.54", "EC2.19", "EC2.13", "EC2.14"], findingTypes: ["security-group-open-admin-port"],
    resourceTypes: ["security_group"], tier: .verify, risk: .medium,
    permissions: ["ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroups"], reversible: true)

  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    let failing = try self.failing(resource, control, config)
    let operations = failing.control.remedy(failing.document, failing.parameters) ?? []
    let keys = operations.compactMap { $0.path.segments.count == 2 ? $0.path.segments[1] : nil }
    let users = Int(resource.configuration["network_interface_count"]?.numberValue ?? 0)
    let risk: Severity = users > config.busyGroupInterfaces ? .high : self.info.risk
    return HandlerPlan(
      operations: operations,
      description: "Revoke \(keys.count) rule\(keys.count == 1 ? "" : "s") of security group \(resource.name) (\(keys.joined(separator: "; "))), keeping the rest"
        + (users > 0 ? "; \(users) network interface\(users == 1 ? " uses" : "s use") the group" : "") + " (\(failing.control.id))",
      risk: risk)
  }
}

/// Procedural: inventory creates a new key and puts its secret only in the configured sink
/// (Secrets Manager), then the change set — IAM.3's remedy, deactivating the stale key — is the
/// part that is verified and reversible (reactivation, until someone deletes the old key). Without
/// a sink it refuses.
struct IAMAccessKeyRotation: RemediationHandler {
  let info = HandlerInfo(
    name: "IAMAccessKeyRotation", description: "Rotate an IAM user's oldest active access key past the age limit (new key to the configured sink, old one deactivated)",
    fixes: ["IAM.3"], resourceTypes: ["iam_user"], tier: .verify, risk: .high,
    permissions: ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "secretsmanager:GetSecretValue",
                  "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
    reversible: true, deliversNewAccessKey: true)

  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    guard !config.iamKeySink.isEmpty else {
      throw .failedPrecondition("IAMAccessKeyRotation needs dispatcher.iam.key.sink (where the new secret goes); none is configured")
    }
    let failing = try self.failing(resource, control, config)
    let operations = failing.control.remedy(failing.document, failing.parameters) ?? []
    guard (failing.document["access_keys"]?.objectValue?.count ?? 0) < 2 else {
      throw .failedPrecondition("IAM user \(resource.name) already has two access keys (IAM's limit): delete the unused one, then rotate")
    }
    let old = operations.first?.path.segments[1] ?? ""
    return HandlerPlan(
      operations: operations,
      description: "Rotate access key \(old) of IAM user \(resource.name) (\(failing.reason)): create a new key, put its secret only in "
        + "\(config.iamKeySink) (secret …/\(resource.name)), then deactivate \(old); reactivating it undoes the change",
      risk: self.info.risk)
  }
}

/// For controls that must not be automated: records the control's guidance, makes no API call.
struct ManualGuidance: RemediationHandler {
  let info = HandlerInfo(
    name: "ManualGuidance", description: "Record how to fix a control that must not be changed automatically; no API call",
    fixes: ["EC2.3", "RDS.3", "EC2.9", "IAM.5", "S3.20"], aliases: ["IAM.4", "cis-3.0/1.4"],
    resourceTypes: ["ebs_volume", "rds_instance", "ec2_instance", "iam_user", "s3_bucket", "s3_account_public_access_block"],
    tier: .changeWindow, risk: .informational, permissions: [], reversible: false)

  /// Only the control the finding names: an alias (IAM.4, the root user's keys) has none here.
  func control(for id: String, resourceType: String) -> (any Control)? {
    self.resolve(id, resourceType: resourceType, aliasesFallBack: false)
  }

  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    guard let control else {
      return HandlerPlan(
        operations: [], description: "Manual fix for \(resource.type) \(resource.name)", risk: .informational,
        guidance: "Fix by hand following the control's guidance; this cannot be safely automated.")
    }
    let failing = try self.failing(resource, control, config)
    return HandlerPlan(
      operations: [], description: "Manual fix for \(resource.type) \(resource.name) (\(control.id): \(failing.reason))", risk: .informational,
      guidance: control.remediation)
  }
}
