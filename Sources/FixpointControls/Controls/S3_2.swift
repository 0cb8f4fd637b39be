import FixpointDocuments

/// S3.2: nobody outside the account can read the bucket: no unconditional public Allow for reads
/// in its policy unless the bucket restricts public policies, and no public ACL grant unless the
/// bucket ignores public ACLs.
struct S3BucketBlocksPublicRead: Control {
  let id = "S3.2"
  let title = "S3 general purpose buckets should block public read access"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("public_access_block", "policy", "acl_grants")
  let remediation = "Turn on the bucket's public access block, or remove the public statements from its policy and the AllUsers/AuthenticatedUsers grants from its ACL."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_public_access_block", "restrict_public_buckets, ignore_public_acls")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket,
    failing: ["name": "site", "policy": ["Version": "2012-10-17", "Statement": [["Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"]]]],
    passing: ["name": "site", "policy": ["Version": "2012-10-17", "Statement": [["Effect": "Allow", "Principal": ["AWS": "arn:aws:iam::123456789012:root"], "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"]]]])

  static let actions: Set<String> = ["s3:getobject", "s3:getobjectversion", "s3:listbucket", "s3:listbucketversions"]
  static let permissions: Set<String> = ["READ", "FULL_CONTROL"]

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    publicAccessVerdict(document, actions: Self.actions, aclPermissions: Self.permissions, what: "read")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("public_access_block"), fullPublicAccessBlock)]
  }
}

/// ACL grantees that mean everyone.
let publicGrantees: Set<String> = [
  "http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
]

/// The verdict of S3.2 and S3.3: public through the policy or the ACL, unless the bucket's public
/// access block neutralises that path.
func publicAccessVerdict(_ document: JSONValue, actions: Set<String>, aclPermissions: Set<String>, what: String) -> Verdict {
  let block = document["public_access_block"]
  var failing: [DocumentPath] = []
  var reasons: [String] = []
  if block?["restrict_public_buckets"]?.boolValue != true,
     statements(document["policy"]).contains(where: { grantsPublicly($0, anyOf: actions) })
  {
    failing.append(at("policy"))
    reasons.append("the bucket policy allows public \(what)")
  }
  if block?["ignore_public_acls"]?.boolValue != true,
     (document["acl_grants"]?.arrayValue ?? []).contains(where: { grant in
       publicGrantees.contains(grant["grantee"]?.stringValue ?? "") && aclPermissions.contains(grant["permission"]?.stringValue ?? "")
     })
  {
    failing.append(at("acl_grants"))
    reasons.append("the bucket ACL grants public \(what)")
  }
  return failing.isEmpty ? .pass : .fail(paths: failing, reason: reasons.joined(separator: "; "))
}
