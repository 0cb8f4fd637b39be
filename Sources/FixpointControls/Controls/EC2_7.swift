import FixpointDocuments

/// EC2.7: new EBS volumes are encrypted by default in the region.
struct EC2EBSDefaultEncryption: Control {
  let id = "EC2.7"
  let title = "EBS default encryption should be enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.ebsEncryptionDefault]
  let reads = paths("enabled")
  let remediation = "Enable EBS encryption by default in the region (EnableEbsEncryptionByDefault); it applies to new volumes."
  let terraform: TerraformFix? = TerraformFix("aws_ebs_encryption_by_default", "enabled")
  let examples = ControlExamples(type: ResourceTypeName.ebsEncryptionDefault, failing: ["enabled": false], passing: ["enabled": true])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document["enabled"]?.boolValue == true ? .pass : .fail(paths: paths("enabled"), reason: "EBS encryption by default is off")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? { [PathOperation(at("enabled"), true)] }
}
