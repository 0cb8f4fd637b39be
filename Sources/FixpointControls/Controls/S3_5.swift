import FixpointDocuments

/// S3.5: the bucket policy denies every request not made over TLS.
struct S3BucketRequiresSSL: Control {
  let id = "S3.5"
  let title = "S3 general purpose buckets should require requests to use SSL"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.s3Bucket]
  let reads = paths("policy", "name")
  let remediation = "Add a statement to the bucket policy that denies s3:* to everyone when aws:SecureTransport is false, for the bucket and its objects."
  let terraform: TerraformFix? = TerraformFix("aws_s3_bucket_policy", "policy")
  let examples = ControlExamples(
    type: ResourceTypeName.s3Bucket, failing: ["name": "logs"],
    passing: ["name": "logs", "policy": ["Version": "2012-10-17", "Statement": [S3BucketRequiresSSL.denyInsecure("logs")]]])

  static let sid = "FixpointDenyInsecureTransport"

  static func denyInsecure(_ bucket: String) -> JSONValue {
    [
      "Sid": .string(Self.sid), "Effect": "Deny", "Principal": "*", "Action": "s3:*",
      "Resource": [.string("arn:aws:s3:::\(bucket)"), .string("arn:aws:s3:::\(bucket)/*")],
      "Condition": ["Bool": ["aws:SecureTransport": "false"]],
    ]
  }

  static func deniesInsecure(_ statement: JSONValue) -> Bool {
    guard statement["Effect"]?.stringValue == "Deny", isPublicPrincipal(statement) else { return false }
    guard strings(statement["Action"]).contains(where: { $0 == "*" || $0.lowercased() == "s3:*" }) else { return false }
    let secure = statement["Condition"]?["Bool"]?["aws:SecureTransport"]
    return secure?.stringValue?.lowercased() == "false" || secure?.boolValue == false
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    statements(document["policy"]).contains(where: Self.deniesInsecure)
      ? .pass : .fail(paths: paths("policy"), reason: "no bucket policy statement denies requests without TLS")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    guard let bucket = document["name"]?.stringValue else { return nil }
    var policy = document["policy"]?.objectValue ?? ["Version": "2012-10-17"]
    policy["Statement"] = .array(statements(document["policy"]) + [Self.denyInsecure(bucket)])
    return [PathOperation(at("policy"), .object(policy))]
  }
}
