import FixpointDocuments

/// S3.20: MFA delete is on. Only the root user with its MFA device can turn it on, so there is no
/// automated fix.
struct S3BucketMFADelete: Control {
  let id = "S3.20"
  let title = "S3 general purpose buckets should have MFA delete enabled"
  let severity = Severity.low
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("mfa_delete", "versioning")
  let remediation = "As the root user with its MFA device, enable versioning with MFA delete (PutBucketVersioning with x-amz-mfa)."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_versioning", "versioning_configuration.mfa_delete")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket, failing: ["name": "m", "versioning": "Enabled"],
    passing: ["name": "m", "versioning": "Enabled", "mfa_delete": "Enabled"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document["mfa_delete"]?.stringValue == "Enabled" ? .pass : .fail(paths: paths("mfa_delete"), reason: "MFA delete is off")
  }
}
