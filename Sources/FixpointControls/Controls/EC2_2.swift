import FixpointDocuments

/// EC2.2: a VPC's default security group has no rules at all.
struct EC2DefaultSecurityGroupClosed: Control {
  let id = "EC2.2"
  let title = "VPC default security groups should not allow inbound or outbound traffic"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.securityGroup]
  let reads = paths("name", "ingress", "egress")
  let remediation = "Remove every inbound and outbound rule of the default security group; move its users to groups of their own first."
  let terraform: TerraformFix? = TerraformFix("aws_default_security_group", "ingress / egress")
  let examples = ControlExamples(
    type: ResourceTypeName.securityGroup,
    failing: ["id": "sg-d", "name": "default", "egress": ["all 0.0.0.0/0": ["protocol": "-1", "from_port": -1, "to_port": -1, "cidr_ipv4": "0.0.0.0/0"]]],
    passing: ["id": "sg-d", "name": "default"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard document["name"]?.stringValue == "default" else { return .notApplicable(reason: "not a VPC's default security group") }
    let rules = ["ingress", "egress"].flatMap { field in NetworkRule.all(document, field).map { at(field, $0.key) } }
    return rules.isEmpty ? .pass : .fail(paths: rules, reason: "the default security group has \(rules.count) rule\(rules.count == 1 ? "" : "s")")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    ["ingress", "egress"].flatMap { field in revoking(NetworkRule.all(document, field), field: field) }
  }
}
