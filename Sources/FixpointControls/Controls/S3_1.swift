import FixpointDocuments

/// S3.1: the account-wide S3 public access block has all four flags on.
struct S3AccountBlocksPublicAccess: Control {
  let id = "S3.1"
  let title = "S3 general purpose buckets should have block public access settings enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.s3AccountPublicAccessBlock]
  let reads = paths("public_access_block")
  let remediation = "Turn on all four settings of the account's S3 public access block (s3control PutPublicAccessBlock); it applies to every bucket."
  let terraform: TerraformFix? = TerraformFix("aws_s3_account_public_access_block", "block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets")
  let examples = ControlExamples(
    type: ResourceTypeName.s3AccountPublicAccessBlock, failing: [:], passing: ["public_access_block": fullPublicAccessBlock])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let gaps = publicAccessBlockGaps(document)
    if gaps.isEmpty { return .pass }
    if document["public_access_block"] == nil {
      return .fail(paths: paths("public_access_block"), reason: "the account has no S3 public access block")
    }
    return .fail(paths: gaps.map { at("public_access_block", $0) }, reason: "account public access block settings off: \(gaps.joined(separator: ", "))")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("public_access_block"), fullPublicAccessBlock)]
  }
}
