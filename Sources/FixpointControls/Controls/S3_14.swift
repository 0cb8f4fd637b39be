import FixpointDocuments

/// S3.14: versioning is enabled (suspended or never enabled fails).
struct S3BucketVersioning: Control {
  let id = "S3.14"
  let title = "S3 general purpose buckets should have versioning enabled"
  let severity = Severity.low
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("versioning")
  let remediation = "Enable versioning (PutBucketVersioning Status=Enabled); it can later be suspended but never turned off."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_versioning", "versioning_configuration.status")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket, failing: ["name": "v", "versioning": "Suspended"], passing: ["name": "v", "versioning": "Enabled"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let state = document["versioning"]?.stringValue ?? "Disabled"
    return state == "Enabled" ? .pass : .fail(paths: paths("versioning"), reason: "versioning is \(state.lowercased())")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("versioning"), "Enabled")]
  }
}
