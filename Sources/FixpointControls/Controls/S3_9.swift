import FixpointDocuments

/// S3.9: server access logging is on.
struct S3BucketLogging: Control {
  let id = "S3.9"
  let title = "S3 general purpose buckets should have server access logging enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("logging")
  let parameters = [ControlParameter("target_bucket", "the bucket that receives access logs; empty: fix by hand", default: "")]
  let remediation = "Turn on server access logging to a log bucket in the same region (PutBucketLogging)."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_logging", "target_bucket")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket, failing: ["name": "data"],
    passing: ["name": "data", "logging": ["target_bucket": "logs", "target_prefix": "data/"]], parameters: ["target_bucket": "logs"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document["logging"]?["target_bucket"]?.stringValue?.isEmpty == false
      ? .pass : .fail(paths: paths("logging"), reason: "server access logging is off")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    let target = parameters.string("target_bucket")
    guard !target.isEmpty, let name = document["name"]?.stringValue, target != name else { return nil }
    return [PathOperation(at("logging"), ["target_bucket": .string(target), "target_prefix": .string("\(name)/")])]
  }
}
