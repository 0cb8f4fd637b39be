// The frameworks as data. Sources are named on each; ../shared/reference/compliance-frameworks.md
// and aws-controls.md hold the facts as gathered (with their primary sources).

enum Frameworks {
  /// AWS Foundational Security Best Practices: one requirement per Security Hub control.
  static let fsbp = Framework(
    id: "fsbp", name: "AWS Foundational Security Best Practices", version: "1.0.0",
    source: "AWS Security Hub control reference (docs.aws.amazon.com/securityhub/latest/userguide/securityhub-controls-reference.html); ids and titles are AWS's",
    complete: false,
    requirements: [
      "S3.1", "S3.2", "S3.3", "S3.5", "S3.8", "S3.9", "S3.14", "S3.17", "S3.20",
      "EC2.1", "EC2.2", "EC2.3", "EC2.6", "EC2.7", "EC2.8", "EC2.9", "EC2.15", "EC2.18", "EC2.19", "EC2.21", "EC2.53", "EC2.54",
      "IAM.2", "IAM.3", "IAM.5", "IAM.22",
      "RDS.2", "RDS.3", "RDS.8", "RDS.11", "RDS.13",
      "CloudTrail.1", "CloudTrail.2", "CloudTrail.4", "KMS.3", "KMS.4", "GuardDuty.1", "Lambda.1",
    ].map { Requirement($0, controls: [$0]) })

  /// CIS AWS Foundations Benchmark v3.0.0 as Security Hub maps it to controls; requirements
  /// Security Hub does not check (section 4's metric filters, the manual ones) have no control.
  static let cisAWS30 = Framework(
    id: "cis-aws-3.0", name: "CIS AWS Foundations Benchmark", version: "3.0.0",
    source: "AWS Security Hub, 'Mapping of controls to CIS requirements in each version' (cis-aws-foundations-benchmark.html); manual requirements from Prowler cis_3.0_aws.json",
    complete: true,
    requirements: [
      Requirement("1.1", "Maintain current contact details", controls: []),
      Requirement("1.2", "Ensure security contact information is registered", controls: ["Account.1"]),
      Requirement("1.3", "Ensure security questions are registered in the AWS account", controls: []),
      Requirement("1.4", "Ensure no 'root' user account access key exists", controls: ["IAM.4"]),
      Requirement("1.5", "Ensure MFA is enabled for the 'root' user account", controls: ["IAM.9"]),
      Requirement("1.6", "Ensure hardware MFA is enabled for the 'root' user account", controls: ["IAM.6"]),
      Requirement("1.8", "Ensure IAM password policy requires minimum length of 14 or greater", controls: ["IAM.15"]),
      Requirement("1.9", "Ensure IAM password policy prevents password reuse", controls: ["IAM.16"]),
      Requirement("1.10", "Ensure MFA is enabled for all IAM users that have a console password", controls: ["IAM.5"]),
      Requirement("1.12", "Ensure credentials unused for 45 days or greater are disabled", controls: ["IAM.22"]),
      Requirement("1.14", "Ensure access keys are rotated every 90 days or less", controls: ["IAM.3"]),
      Requirement("1.15", "Ensure IAM users receive permissions only through groups", controls: ["IAM.2"]),
      Requirement("1.17", "Ensure a support role has been created to manage incidents with AWS Support", controls: ["IAM.18"]),
      Requirement("1.18", "Ensure IAM instance roles are used for AWS resource access from instances", controls: []),
      Requirement("1.19", "Ensure that all expired SSL/TLS certificates stored in IAM are removed", controls: ["IAM.26"]),
      Requirement("1.20", "Ensure that IAM Access analyzer is enabled for all regions", controls: ["IAM.28"]),
      Requirement("1.21", "Ensure IAM users are managed centrally via identity federation or AWS Organizations", controls: []),
      Requirement("1.22", "Ensure access to AWSCloudShellFullAccess is restricted", controls: ["IAM.27"]),
      Requirement("2.1.1", "Ensure S3 Bucket Policy is set to deny HTTP requests", controls: ["S3.5"]),
      Requirement("2.1.2", "Ensure MFA Delete is enabled on S3 buckets", controls: ["S3.20"]),
      Requirement("2.1.3", "Ensure all data in Amazon S3 has been discovered, classified and secured when required", controls: []),
      Requirement("2.1.4", "Ensure that S3 Buckets are configured with 'Block public access'", controls: ["S3.1", "S3.8"]),
      Requirement("2.2.1", "Ensure EBS volume encryption is enabled in all regions", controls: ["EC2.7"]),
      Requirement("2.3.1", "Ensure that encryption-at-rest is enabled for RDS instances", controls: ["RDS.3"]),
      Requirement("2.3.2", "Ensure Auto Minor Version Upgrade feature is enabled for RDS instances", controls: ["RDS.13"]),
      Requirement("2.3.3", "Ensure that public access is not given to RDS instances", controls: ["RDS.2"]),
      Requirement("2.4.1", "Ensure that encryption is enabled for EFS file systems", controls: ["EFS.1"]),
      Requirement("3.1", "Ensure CloudTrail is enabled in all regions", controls: ["CloudTrail.1"]),
      Requirement("3.2", "Ensure CloudTrail log file validation is enabled", controls: ["CloudTrail.4"]),
      Requirement("3.3", "Ensure AWS Config is enabled in all regions", controls: ["Config.1"]),
      Requirement("3.4", "Ensure S3 bucket access logging is enabled on the CloudTrail S3 bucket", controls: ["CloudTrail.7"]),
      Requirement("3.5", "Ensure CloudTrail logs are encrypted at rest using KMS CMKs", controls: ["CloudTrail.2"]),
      Requirement("3.6", "Ensure rotation for customer-created symmetric CMKs is enabled", controls: ["KMS.4"]),
      Requirement("3.7", "Ensure VPC flow logging is enabled in all VPCs", controls: ["EC2.6"]),
      Requirement("3.8", "Ensure that object-level logging for write events is enabled for S3 buckets", controls: ["S3.22"]),
      Requirement("3.9", "Ensure that object-level logging for read events is enabled for S3 buckets", controls: ["S3.23"]),
    ] + (1...16).map { Requirement("4.\($0)", "Log metric filter and alarm (checked by hand)", controls: []) } + [
      Requirement("5.1", "Ensure no Network ACLs allow ingress from 0.0.0.0/0 to remote server administration ports", controls: ["EC2.21"]),
      Requirement("5.2", "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server administration ports", controls: ["EC2.53"]),
      Requirement("5.3", "Ensure no security groups allow ingress from ::/0 to remote server administration ports", controls: ["EC2.54"]),
      Requirement("5.4", "Ensure the default security group of every VPC restricts all traffic", controls: ["EC2.2"]),
      Requirement("5.5", "Ensure routing tables for VPC peering are 'least access'", controls: []),
      Requirement("5.6", "Ensure that EC2 Metadata Service only allows IMDSv2", controls: ["EC2.8"]),
    ])

  /// NIST SP 800-53 Rev. 5 controls that Security Hub lists in the controls' related requirements.
  static let nist80053r5 = Framework(
    id: "nist-800-53-r5", name: "NIST SP 800-53", version: "Rev. 5",
    source: "AWS Security Hub control pages, 'Related requirements: NIST.800-53.r5 …'", complete: false,
    requirements: requirements(\.nist))

  /// PCI DSS v4.0.1 requirements from the controls' related requirements.
  static let pciDSS40 = Framework(
    id: "pci-dss-4.0", name: "PCI DSS", version: "4.0.1",
    source: "AWS Security Hub control pages, 'Related requirements: PCI DSS v4.0.1/…'", complete: false,
    requirements: requirements(\.pci))

  /// SOC 2 Trust Services Criteria (2017) as Prowler maps its checks, joined to controls by check.
  static let soc2 = Framework(
    id: "soc2", name: "SOC 2 Trust Services Criteria", version: "2017",
    source: "Prowler prowler/compliance/aws/soc2_aws.json, joined through the control's Prowler checks", complete: false,
    requirements: requirements(\.soc2))

  /// HIPAA Security Rule (45 CFR 164 subpart C) as Prowler maps its checks.
  static let hipaa = Framework(
    id: "hipaa", name: "HIPAA Security Rule", version: "45 CFR 164",
    source: "Prowler prowler/compliance/aws/hipaa_aws.json, joined through the control's Prowler checks (citations from the requirement ids)",
    complete: false,
    requirements: requirements(\.hipaa))

  /// The two CIS v1.2.0 requirements the legacy port controls evidence; v3.0 replaced them with
  /// 5.2 and 5.3. Only these are listed.
  static let cisAWS12 = Framework(
    id: "cis-aws-1.2", name: "CIS AWS Foundations Benchmark (legacy port requirements)", version: "1.2.0",
    source: "AWS Security Hub EC2.13/EC2.14 related requirements (CIS AWS Foundations Benchmark v1.2.0/4.1, 4.2)", complete: false,
    requirements: [
      Requirement("4.1", "Ensure no security groups allow ingress from 0.0.0.0/0 to port 22", controls: ["EC2.13"]),
      Requirement("4.2", "Ensure no security groups allow ingress from 0.0.0.0/0 to port 3389", controls: ["EC2.14"]),
    ])
}
