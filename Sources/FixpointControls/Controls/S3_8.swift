import FixpointDocuments

/// S3.8: a bucket's own public access block has all four flags on.
struct S3BucketBlocksPublicAccess: Control {
  let id = "S3.8"
  let title = "S3 general purpose buckets should block public access"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("public_access_block")
  let remediation = "Turn on all four settings of the bucket's public access block (PutPublicAccessBlock)."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_public_access_block", "block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket,
    failing: ["name": "open", "public_access_block": ["block_public_acls": true, "ignore_public_acls": false, "block_public_policy": true, "restrict_public_buckets": false]],
    passing: ["name": "closed", "public_access_block": fullPublicAccessBlock])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let gaps = publicAccessBlockGaps(document)
    if gaps.isEmpty { return .pass }
    if document["public_access_block"] == nil {
      return .fail(paths: paths("public_access_block"), reason: "the bucket has no public access block")
    }
    return .fail(paths: gaps.map { at("public_access_block", $0) }, reason: "public access block settings off: \(gaps.joined(separator: ", "))")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("public_access_block"), fullPublicAccessBlock)]
  }
}
