/// Every control, in one place. A new control is one file in Controls/ and one line here; the
/// catalogue test runs every entry.
public enum ControlCatalogue {
  public static let all: [any Control] = [
    S3AccountBlocksPublicAccess(), S3BucketBlocksPublicRead(), S3BucketBlocksPublicWrite(), S3BucketRequiresSSL(),
    S3BucketBlocksPublicAccess(), S3BucketLogging(), S3BucketVersioning(), S3BucketKMSEncryption(), S3BucketMFADelete(),
    EC2SnapshotNotPublic(), EC2DefaultSecurityGroupClosed(), EC2AttachedVolumeEncrypted(), EC2VPCFlowLogs(), EC2EBSDefaultEncryption(),
    EC2RequiresIMDSv2(), EC2NoPublicIP(), EC2NoPublicSSH(), EC2NoPublicRDP(), EC2SubnetNoAutoPublicIP(), EC2OnlyAuthorizedPublicPorts(),
    EC2NoPublicHighRiskPorts(), EC2NetworkACLNoPublicAdminPorts(), EC2NoPublicAdminPortsIPv4(), EC2NoPublicAdminPortsIPv6(),
    IAMUserNoPolicies(), IAMAccessKeysRotated(), IAMConsoleUsersHaveMFA(), IAMPasswordMinimumLength(), IAMPasswordReusePrevention(),
    IAMUnusedCredentialsRemoved(),
    RDSNotPublic(), RDSStorageEncrypted(), RDSDeletionProtected(), RDSBackupsEnabled(), RDSAutoMinorVersionUpgrade(),
    CloudTrailMultiRegionEnabled(), CloudTrailEncrypted(), CloudTrailLogFileValidation(),
    KMSKeyNotPendingDeletion(), KMSKeyRotationEnabled(), GuardDutyEnabled(), LambdaNotPublic(),
  ]

  public static let byID: [String: any Control] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

  /// The controls that apply to resources of `type`.
  public static func controls(for type: String) -> [any Control] {
    self.forType[type] ?? []
  }

  private static let forType: [String: [any Control]] = {
    var out: [String: [any Control]] = [:]
    for control in all { for type in control.resourceTypes { out[type, default: []].append(control) } }
    return out
  }()
}
