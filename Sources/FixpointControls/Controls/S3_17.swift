import FixpointDocuments

/// S3.17: default encryption uses KMS (SSE-KMS or DSSE-KMS); SSE-S3 or none fails. A bucket
/// already on KMS passes, so a fix never moves it back to SSE-S3.
struct S3BucketKMSEncryption: Control {
  let id = "S3.17"
  let title = "S3 general purpose buckets should be encrypted at rest with AWS KMS keys"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("encryption")
  let parameters = [ControlParameter("kms_key_id", "the KMS key for SSE-KMS; empty: the AWS managed key aws/s3", default: "")]
  let remediation = "Set the bucket's default encryption to SSE-KMS (PutBucketEncryption, aws:kms) with a bucket key; it applies to new objects."
  let terraform: TerraformFix? = TerraformFix(
    "aws_s3_bucket_server_side_encryption_configuration", "rule.apply_server_side_encryption_by_default.sse_algorithm")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket, failing: ["name": "e", "encryption": ["sse_algorithm": "AES256", "bucket_key_enabled": false]],
    passing: ["name": "e", "encryption": ["sse_algorithm": "aws:kms", "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k", "bucket_key_enabled": true]])

  static let kms: Set<String> = ["aws:kms", "aws:kms:dsse"]

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard let algorithm = document["encryption"]?["sse_algorithm"]?.stringValue else {
      return .fail(paths: paths("encryption"), reason: "no default encryption")
    }
    return Self.kms.contains(algorithm)
      ? .pass : .fail(paths: paths("encryption.sse_algorithm"), reason: "default encryption is \(algorithm), not a KMS key")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    let key = parameters.string("kms_key_id")
    var encryption: [String: JSONValue] = ["sse_algorithm": "aws:kms", "bucket_key_enabled": true]
    if !key.isEmpty { encryption["kms_key_id"] = .string(key) }
    return [PathOperation(at("encryption"), .object(encryption))]
  }
}
