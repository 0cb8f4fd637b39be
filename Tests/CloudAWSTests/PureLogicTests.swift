@testable import CloudAWS
import FixpointDocuments
import Foundation
import Testing

@Suite("AWS error shapes")
struct AWSErrorTests {
  static func parse(_ status: Int, _ body: String, headers: [(String, String)] = []) -> AWSError {
    AWSError.parse(status: status, headers: headers, body: Array(body.utf8))
  }

  @Test("every protocol's error shape gives its code, message and kind")
  func shapes() {
    let ec2 = Self.parse(503, "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message></Error></Errors><RequestID>x</RequestID></Response>")
    #expect(ec2.code == "RequestLimitExceeded" && ec2.message == "slow" && ec2.kind == .throttling && ec2.isRetryable)
    let query = Self.parse(400, "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>no user</Message></Error></ErrorResponse>")
    #expect(query.code == "NoSuchEntity" && query.kind == .notFound && !query.isRetryable)
    let s3 = Self.parse(404, "<?xml version=\"1.0\"?><Error><Code>NoSuchBucketPolicy</Code><Message>none</Message></Error>")
    #expect(s3.code == "NoSuchBucketPolicy" && s3.kind == .notFound)
    let json = Self.parse(400, #"{"__type":"com.amazonaws.kms#NotFoundException","message":"gone"}"#)
    #expect(json.code == "NotFoundException" && json.message == "gone" && json.kind == .notFound)
    let header = Self.parse(429, "{}", headers: [("X-Amzn-ErrorType", "TooManyRequestsException:http://internal.amazon.com/")])
    #expect(header.code == "TooManyRequestsException" && header.kind == .throttling)
    let html = Self.parse(500, "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head></html>")
    #expect(html.code == "InternalFailure" && html.message == "500 Internal Server Error" && html.kind == .service && html.isRetryable)
    let auth = Self.parse(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error></ErrorResponse>")
    #expect(auth.kind == .authentication && !auth.isRetryable)
    let denied = Self.parse(403, "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>m</Message></Error></Errors></Response>")
    #expect(denied.kind == .accessDenied)
    let invalid = Self.parse(400, "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>m</Message></Error></Errors></Response>")
    #expect(invalid.kind == .validation)
    let ec2NotFound = Self.parse(400, "<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>m</Message></Error></Errors></Response>")
    #expect(ec2NotFound.kind == .notFound)
  }

  @Test("backoff delays stay within [0, min(cap, base·2ⁿ)]")
  func backoff() {
    let policy = RetryPolicy(maxAttempts: 8, base: .milliseconds(50), cap: .milliseconds(400))
    for attempt in 1...8 {
      let bound = min(400.0, 50.0 * pow(2, Double(attempt)))
      for _ in 0..<200 {
        let d = policy.delay(afterAttempt: attempt)
        #expect(d >= .zero && d <= .milliseconds(Int(bound)))
      }
    }
  }

  @Test("the token bucket lets a burst through, then paces at its rate")
  func tokenBucket() async {
    let bucket = TokenBucket(rate: 100, burst: 10)
    let start = ContinuousClock.now
    for _ in 0..<30 { await bucket.acquire() }
    let elapsed = ContinuousClock.now - start
    // 10 at once, 20 more at 100/s: about 200 ms. The upper bound only catches a wait gone wrong
    // by orders of magnitude: under the parallel suite on two cores, each of the 20 sleeps can
    // wait seconds for a thread to resume on (seen: 4.8 s), which says nothing about the bucket.
    #expect(elapsed >= .milliseconds(180) && elapsed < .seconds(15), "\(elapsed)")
  }
}

@Suite("Document paths and change plans")
struct ChangePlanTests {
  @Test("paths parse dotted names and bracketed keys, print canonically, and refuse junk")
  func paths() throws {
    #expect(try DocumentPath("public_access_block.block_public_acls").segments == ["public_access_block", "block_public_acls"])
    #expect(try DocumentPath("ingress[tcp 22-22 0.0.0.0/0]").segments == ["ingress", "tcp 22-22 0.0.0.0/0"])
    #expect(try DocumentPath("access_keys[AKIA123].status").segments == ["access_keys", "AKIA123", "status"])
    #expect(try DocumentPath("access_keys.AKIA123.status").description == "access_keys[AKIA123].status")
    for bad in ["", ".", "a..b", "a.", "[x]", "a[", "a[]", "a]b", "a b", "a[x]b"] {
      #expect(throws: DocumentPathError.self, "\(bad)") { try DocumentPath(bad) }
    }
  }

  @Test("every resource type's writers are exactly its schema's writable fields")
  func writersMatchSchema() {
    for type in ResourceCatalog.all {
      #expect(Set(type.writers.keys) == ResourceSchema.of(type.name).writable, "\(type.name)")
    }
  }

  @Test("a plan skips what is in place, groups by field, validates values, and refuses unknown fields")
  func plans() throws {
    let type = S3Bucket()
    let current: JSONValue = ["versioning": "Enabled", "public_access_block": ["block_public_acls": true], "tags": ["a": "1"]]
    let ok = try ChangePlanner.plan(type, current: current, operations: [
      (try DocumentPath("versioning"), "Enabled"),
      (try DocumentPath("public_access_block.ignore_public_acls"), true),
      (try DocumentPath("tags[b]"), "2"),
    ])
    #expect(ok.diffs.map(\.path.description) == ["public_access_block.ignore_public_acls", "tags.b"])
    #expect(ok.fields["public_access_block"] == ["block_public_acls": true, "ignore_public_acls": true])
    #expect(ok.fields["tags"] == ["a": "1", "b": "2"])
    #expect(ok.fields["versioning"] == nil)
    #expect(throws: ChangeError.self) { try ChangePlanner.plan(type, current: current, operations: [(try DocumentPath("name"), "x")]) }
    #expect(throws: ChangeError.self) { try ChangePlanner.plan(type, current: current, operations: [(try DocumentPath("versioning"), "Off")]) }
    // Setting null removes: an absent and a null setting are the same state.
    let removal = try ChangePlanner.plan(type, current: current, operations: [(try DocumentPath("tags[a]"), .null)])
    #expect(removal.fields["tags"] == [:])
    #expect(try ChangePlanner.plan(type, current: current, operations: [(try DocumentPath("policy"), .null)]).diffs.isEmpty)
  }
}
