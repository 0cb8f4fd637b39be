import FixpointDocuments

/// S3.3: nobody outside the account can write to the bucket (policy or ACL), as S3.2 for writes.
struct S3BucketBlocksPublicWrite: Control {
  let id = "S3.3"
  let title = "S3 general purpose buckets should block public write access"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("public_access_block", "policy", "acl_grants")
  let remediation = "Turn on the bucket's public access block, or remove public write statements from its policy and WRITE grants to AllUsers/AuthenticatedUsers from its ACL."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_public_access_block", "restrict_public_buckets, ignore_public_acls")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket,
    failing: ["name": "drop", "acl_grants": [["grantee": "http://acs.amazonaws.com/groups/global/AllUsers", "permission": "WRITE"]]],
    passing: ["name": "drop", "acl_grants": [["grantee": "http://acs.amazonaws.com/groups/global/AllUsers", "permission": "WRITE"]],
              "public_access_block": fullPublicAccessBlock])

  static let actions: Set<String> = ["s3:putobject", "s3:deleteobject", "s3:deleteobjectversion", "s3:putobjectacl", "s3:putbucketpolicy"]
  static let permissions: Set<String> = ["WRITE", "WRITE_ACP", "FULL_CONTROL"]

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    publicAccessVerdict(document, actions: Self.actions, aclPermissions: Self.permissions, what: "write")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("public_access_block"), fullPublicAccessBlock)]
  }
}
