import FixpointDocuments

/// EC2.9: the instance has no public IPv4 address. Removing one loses the address: by hand.
struct EC2NoPublicIP: Control {
  let id = "EC2.9"
  let title = "Amazon EC2 instances should not have a public IPv4 address"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.ec2Instance]
  let reads = paths("public_ip")
  let remediation = "Move the instance to a private subnet behind a load balancer or NAT, or disassociate its Elastic IP; the address is lost."
  let terraform: TerraformFix? = TerraformFix("aws_instance", "associate_public_ip_address")
  let examples = ControlExamples(
    type: ResourceTypeName.ec2Instance, failing: ["id": "i-2", "public_ip": "54.1.2.3"], passing: ["id": "i-2"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard let ip = document["public_ip"]?.stringValue, !ip.isEmpty else { return .pass }
    return .fail(paths: paths("public_ip"), reason: "the instance has the public address \(ip)")
  }
}
