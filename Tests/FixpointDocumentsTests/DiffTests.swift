import FixpointDocuments
import Testing

@Suite("Documents: diff and comparison rules")
struct DiffTests {
  @Test("a diff names each differing leaf with both values; null and absent are the same")
  func leaves() {
    let a: JSONValue = ["versioning": "Enabled", "logging": ["target_bucket": "x", "target_prefix": "a/"], "policy": .null]
    let b: JSONValue = ["versioning": "Suspended", "logging": ["target_bucket": "x", "target_prefix": "b/"], "tags": ["env": "prod"]]
    let d = diff(a, b, type: ResourceTypeName.s3Bucket)
    #expect(d.map(\.path.description) == ["logging.target_prefix", "tags.env", "versioning"])
    #expect(d[1].before == .null && d[1].after == "prod")
    #expect(diff(a, a, type: ResourceTypeName.s3Bucket).isEmpty)
  }

  @Test("cloud-assigned rule ids, set order and volatile fields make no difference")
  func rules() {
    let rule: JSONValue = ["protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8"]
    var renamed = rule
    renamed.set("sgr-2", at: DocumentPath(segments: ["rule_id"]))
    let a: JSONValue = ["ingress": ["tcp 443-443 10.0.0.0/8": rule], "network_interface_count": 1]
    let b: JSONValue = ["ingress": ["tcp 443-443 10.0.0.0/8": renamed], "network_interface_count": 9]
    #expect(diff(a, b, type: ResourceTypeName.securityGroup).isEmpty)
    #expect(diff(["security_groups": ["sg-1", "sg-2"]], ["security_groups": ["sg-2", "sg-1"]], type: ResourceTypeName.ec2Instance).isEmpty)
    let used: JSONValue = ["access_keys": ["AKIA1": ["status": "Active", "last_used_date": "2026-01-01T00:00:00Z"]]]
    let usedLater: JSONValue = ["access_keys": ["AKIA1": ["status": "Active", "last_used_date": "2026-02-01T00:00:00Z"]]]
    #expect(diff(used, usedLater, type: ResourceTypeName.iamUser).isEmpty)
    let deactivated: JSONValue = ["access_keys": ["AKIA1": ["status": "Inactive", "last_used_date": "2026-02-01T00:00:00Z"]]]
    #expect(diff(used, deactivated, type: ResourceTypeName.iamUser).map(\.path.description) == ["access_keys[AKIA1].status"])
  }

  @Test("an unreadable field is marked with why, and its value removed")
  func unreadable() {
    let doc = Unreadable.marking(["policy": ["Statement": []], "name": "b"], field: "policy", reason: "AccessDenied")
    #expect(doc["policy"] == nil)
    #expect(Unreadable.reason(doc, field: "policy") == "AccessDenied")
    #expect(Unreadable.first(doc, among: [DocumentPath(segments: ["name"])]) == nil)
  }
}
