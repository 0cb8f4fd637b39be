import FixpointControls
import FixpointDocuments
import Foundation
import Testing

/// The catalogue's third use: a drift's kind and severity from the controls it breaks.
@Suite("Drift classification")
struct DriftClassTests {
  static let group: JSONValue = [
    "id": "sg-1", "name": "web", "description": "web", "vpc_id": "vpc-1", "network_interface_count": 2,
    "ingress": ["tcp 443-443 10.0.0.0/8": ["protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8", "rule_id": "sgr-1"]],
    "egress": [:], "tags": ["team": "web"],
  ]

  static func with(_ document: JSONValue, _ path: String, _ value: JSONValue) throws -> JSONValue {
    var out = document
    out.set(value, at: try DocumentPath(path))
    return out
  }

  @Test("opening SSH to the world is a security drift naming the controls it breaks, worst first")
  func security() throws {
    let live = try Self.with(Self.group, "ingress[tcp 22-22 0.0.0.0/0]", ["protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0", "rule_id": "sgr-2"])
    let c = try #require(DriftClass.of(type: ResourceTypeName.securityGroup, expected: Self.group, live: live))
    #expect(c.kind == .security)
    #expect(c.brokenControls.contains("EC2.13"), "\(c.brokenControls)")
    let severities = c.brokenControls.map { ControlCatalogue.byID[$0]!.severity }
    #expect(c.severity == severities.max() && severities == severities.sorted(by: >), "\(c.brokenControls)")
    // An added rule is named leaf by leaf (the rule id the cloud assigned is not compared).
    #expect(c.differences.map(\.path.description) == ["cidr_ipv4", "from_port", "protocol", "to_port"].map { "ingress[tcp 22-22 0.0.0.0/0].\($0)" }, "\(c.differences)")
  }

  @Test("a control that already failed does not make a further change a security drift")
  func alreadyFailing() throws {
    let open = try Self.with(Self.group, "ingress[tcp 22-22 0.0.0.0/0]", ["protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"])
    let retagged = try Self.with(open, "tags.team", "ops")
    let c = try #require(DriftClass.of(type: ResourceTypeName.securityGroup, expected: open, live: retagged))
    #expect(c.kind == .configuration && c.severity == .low && c.brokenControls.isEmpty)
  }

  @Test("removing a bucket's public access block is a security drift on S3.8")
  func bucket() throws {
    let block: JSONValue = ["block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true]
    let expected: JSONValue = ["name": "b", "public_access_block": block]
    let c = try #require(DriftClass.of(type: ResourceTypeName.s3Bucket, expected: expected, live: ["name": "b"]))
    #expect(c.kind == .security && c.brokenControls.contains("S3.8") && c.severity >= .high, "\(c)")
  }

  @Test("ids the cloud assigns anew, volatile values and set order are never drift")
  func noise() throws {
    var live = try Self.with(Self.group, "ingress[tcp 443-443 10.0.0.0/8].rule_id", "sgr-99")
    live = try Self.with(live, "network_interface_count", 7)
    #expect(DriftClass.of(type: ResourceTypeName.securityGroup, expected: Self.group, live: live) == nil)
    let instance: JSONValue = ["id": "i-1", "state": "running", "security_groups": ["sg-1", "sg-2"]]
    let reordered: JSONValue = ["id": "i-1", "state": "stopped", "security_groups": ["sg-2", "sg-1"]]
    #expect(DriftClass.of(type: ResourceTypeName.ec2Instance, expected: instance, live: reordered) == nil)
  }

  @Test("a field either side could not read is not compared")
  func unreadable() throws {
    let bucket: JSONValue = ["name": "b", "policy": ["Statement": []], "tags": ["env": "prod"]]
    let denied = Unreadable.marking(bucket, field: "policy", reason: "AccessDenied")
    #expect(DriftClass.of(type: ResourceTypeName.s3Bucket, expected: bucket, live: denied) == nil)
    #expect(DriftClass.of(type: ResourceTypeName.s3Bucket, expected: denied, live: bucket) == nil)
    let retagged = try Self.with(denied, "tags.env", "dev")
    #expect(DriftClass.of(type: ResourceTypeName.s3Bucket, expected: bucket, live: retagged)?.differences.map(\.path.description) == ["tags.env"])
  }

  @Test("a configuration drift is low on tags or read-only fields, medium on a writable field")
  func configurationSeverity() throws {
    let tagged = try #require(DriftClass.of(type: ResourceTypeName.securityGroup, expected: Self.group, live: try Self.with(Self.group, "tags.team", "ops")))
    #expect(tagged.kind == .configuration && tagged.severity == .low)
    let described = try #require(DriftClass.of(type: ResourceTypeName.securityGroup, expected: Self.group, live: try Self.with(Self.group, "description", "changed")))
    #expect(described.severity == .low)
    let narrowed = try Self.with(Self.group, "ingress[tcp 443-443 10.0.0.0/8]", .null)
    let c = try #require(DriftClass.of(type: ResourceTypeName.securityGroup, expected: Self.group, live: narrowed))
    #expect(c.kind == .configuration && c.severity == .medium, "closing a rule breaks nothing but is a change to a writable field")
  }
}
