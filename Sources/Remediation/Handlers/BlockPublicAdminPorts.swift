import FixpointCore
import FixpointProtocol
import Foundation
import SwiftProtobuf

/// Revokes only the ingress rules that open administration (and other high-risk) ports to the
/// whole internet, keeping every other rule. A group many interfaces use is a higher risk.
struct BlockPublicAdminPorts: RemediationHandler {
  let info = HandlerInfo(
    name: "BlockPublicAdminPorts",
    description: "Revoke security group rules that open SSH, RDP or other high-risk ports to 0.0.0.0/0 or ::/0",
    controlIDs: ["EC2.53", "EC2.54", "EC2.19", "EC2.13", "EC2.14", "cis-3.0/5.2", "cis-3.0/5.3"], findingTypes: ["security-group-open-admin-port"],
    resourceTypes: ["security_group"], tier: .t2Verify, risk: .medium,
    permissions: ["ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"], reversible: true)

  /// EC2.53/54 (22, 3389) and EC2.19's high-risk list.
  static let riskyPorts = [20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300]

  /// The keys of the offending rules.
  static func offending(_ ingress: [String: Google_Protobuf_Value]) -> [String] {
    ingress.filter { _, rule in
      let r = rule.structValue.fields
      let source = r["cidr_ipv4"]?.stringValue ?? r["cidr_ipv6"]?.stringValue ?? ""
      guard source == "0.0.0.0/0" || source == "::/0" else { return false }
      let proto = r["protocol"]?.stringValue ?? ""
      guard ["tcp", "udp", "-1"].contains(proto) else { return false }
      if proto == "-1" { return true }
      let from = Int(r["from_port"]?.numberValue ?? -1)
      let to = Int(r["to_port"]?.numberValue ?? -1)
      return Self.riskyPorts.contains { from <= $0 && $0 <= to }
    }.keys.sorted()
  }

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    let ingress = resource.field("ingress")?.structValue.fields ?? [:]
    let keys = Self.offending(ingress)
    let users = Int(resource.field("network_interface_count")?.numberValue ?? 0)
    let risk: Fixpoint_V1_Severity = users > config.busyGroupInterfaces ? .high : self.info.risk
    return HandlerPlan(
      operations: keys.map { Self.op("ingress[\($0)]", .init(nilLiteral: ())) },
      description: keys.isEmpty
        ? "Nothing to revoke on security group \(resource.name): no rule opens a high-risk port to the internet"
        : "Revoke \(keys.count) rule\(keys.count == 1 ? "" : "s") of security group \(resource.name) (\(keys.joined(separator: "; "))), keeping the rest"
          + (users > 0 ? "; \(users) network interface\(users == 1 ? " uses" : "s use") the group" : ""),
      risk: risk)
  }
}

/// Procedural: inventory creates a new key and puts its secret only in the configured sink
/// (Secrets Manager), then the change set deactivates the old key — the part that is verified
/// and reversible (reactivation, until someone deletes the old key). Without a sink it refuses.
struct IAMAccessKeyRotation: RemediationHandler {
  let info = HandlerInfo(
    name: "IAMAccessKeyRotation", description: "Rotate an IAM user's oldest active access key past the age limit (new key to the configured sink, old one deactivated)",
    controlIDs: ["IAM.3", "cis-3.0/1.14"], resourceTypes: ["iam_user"], tier: .t2Verify, risk: .high,
    permissions: ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "secretsmanager:GetSecretValue",
                  "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
    reversible: true, deliversNewAccessKey: true)

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    guard !config.iamKeySink.isEmpty else {
      throw .failedPrecondition("IAMAccessKeyRotation needs dispatcher.iam.key.sink (where the new secret goes); none is configured")
    }
    let user = resource.name
    let keys = resource.field("access_keys")?.structValue.fields ?? [:]
    let now = Date()
    let stale = keys.compactMap { id, key -> (String, Date)? in
      let k = key.structValue.fields
      guard k["status"]?.stringValue == "Active", let created = Self.date(k["created"]?.stringValue ?? "") else { return nil }
      return now.timeIntervalSince(created) >= Double(config.iamKeyMaxAgeDays) * 86_400 ? (id, created) : nil
    }.sorted { $0.1 < $1.1 }
    guard let (old, created) = stale.first else {
      return HandlerPlan(
        operations: [], description: "No active access key of IAM user \(user) is older than \(config.iamKeyMaxAgeDays) days: nothing to rotate", risk: .info)
    }
    guard keys.count < 2 else {
      throw .failedPrecondition("IAM user \(user) already has two access keys (IAM's limit): delete the unused one, then rotate")
    }
    let days = Int(now.timeIntervalSince(created) / 86_400)
    return HandlerPlan(
      operations: [Self.op("access_keys[\(old)].status", .init(stringLiteral: "Inactive"))],
      description: "Rotate access key \(old) of IAM user \(user) (\(days) days old): create a new key, put its secret only in "
        + "\(config.iamKeySink) (secret …/\(user)), then deactivate \(old); reactivating it undoes the change",
      risk: self.info.risk)
  }

  /// IAM's timestamps, with or without fractional seconds.
  static func date(_ text: String) -> Date? {
    let plain = ISO8601DateFormatter()
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return plain.date(from: text) ?? fractional.date(from: text)
  }
}

/// For controls that must not be automated: records guidance, makes no API call.
struct ManualGuidance: RemediationHandler {
  let info = HandlerInfo(
    name: "ManualGuidance", description: "Record how to fix a control that must not be changed automatically; no API call",
    controlIDs: ["EC2.3", "RDS.3", "EC2.9", "IAM.5", "IAM.4", "S3.20", "cis-3.0/2.3.1", "cis-3.0/1.10", "cis-3.0/1.4", "cis-3.0/2.1.2"], resourceTypes: ["ebs_volume", "rds_instance", "ec2_instance", "iam_user", "s3_bucket", "s3_account_public_access_block"],
    tier: .t3ChangeWindow, risk: .info, permissions: [], reversible: false)

  static let guidance: [String: String] = [
    "ebs_volume": "EBS volumes cannot be encrypted in place: snapshot the volume, copy the snapshot with encryption, create a volume from it and swap it in during a maintenance window.",
    "rds_instance": "RDS storage encryption is set at creation: snapshot, copy the snapshot encrypted, restore a new instance from it and move clients over.",
    "ec2_instance": "Remove the public address by moving the instance to a private subnet or disassociating its Elastic IP; the address is lost.",
    "iam_user": "The user must enroll an MFA device (or the root user must act); notify the owner.",
  ]

  func plan(_ resource: Fixpoint_V1_Resource, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    let text = Self.guidance[resource.type] ?? "Fix by hand following the control's guidance; this cannot be safely automated."
    return HandlerPlan(operations: [], description: "Manual fix for \(resource.type) \(resource.name)", risk: .info, guidance: text)
  }
}
