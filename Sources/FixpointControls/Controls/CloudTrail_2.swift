import FixpointDocuments

/// CloudTrail.2: the trail encrypts its log files with a KMS key.
struct CloudTrailEncrypted: Control {
  let id = "CloudTrail.2"
  let title = "CloudTrail should have encryption at-rest enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.cloudTrailTrail]
  let reads = paths("kms_key_id")
  let parameters = [ControlParameter("kms_key_id", "the KMS key trails encrypt with (its policy must allow CloudTrail); empty: fix by hand", default: "")]
  let remediation = "Encrypt the trail's logs with a KMS key whose policy lets CloudTrail use it (UpdateTrail KmsKeyId)."
  let terraform: TerraformFix? = TerraformFix("aws_cloudtrail", "kms_key_id")
  let examples = ControlExamples(
    type: ResourceTypeName.cloudTrailTrail, failing: ["name": "t"], passing: ["name": "t", "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k"],
    parameters: ["kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document["kms_key_id"]?.stringValue?.isEmpty == false ? .pass : .fail(paths: paths("kms_key_id"), reason: "the trail's logs are not encrypted with a KMS key")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    let key = parameters.string("kms_key_id")
    return key.isEmpty ? nil : [PathOperation(at("kms_key_id"), .string(key))]
  }
}
