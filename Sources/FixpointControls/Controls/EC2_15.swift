import FixpointDocuments

/// EC2.15: the subnet does not give new interfaces public addresses by itself.
struct EC2SubnetNoAutoPublicIP: Control {
  let id = "EC2.15"
  let title = "Amazon EC2 subnets should not automatically assign public IP addresses"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.subnet]
  let reads = paths("map_public_ip_on_launch", "assign_ipv6_address_on_creation")
  let remediation = "Turn off automatic public IPv4 (and IPv6) assignment on the subnet (ModifySubnetAttribute)."
  let terraform: TerraformFix? = TerraformFix("aws_subnet", "map_public_ip_on_launch")
  let examples = ControlExamples(
    type: ResourceTypeName.subnet, failing: ["id": "subnet-1", "map_public_ip_on_launch": true],
    passing: ["id": "subnet-1", "map_public_ip_on_launch": false, "assign_ipv6_address_on_creation": false])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let on = ["map_public_ip_on_launch", "assign_ipv6_address_on_creation"].filter { document[$0]?.boolValue == true }
    return on.isEmpty ? .pass : .fail(paths: on.map { at($0) }, reason: "the subnet assigns public addresses on launch (\(on.joined(separator: ", ")))")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    ["map_public_ip_on_launch", "assign_ipv6_address_on_creation"].filter { document[$0]?.boolValue == true }
      .map { PathOperation(at($0), false) }
  }
}
