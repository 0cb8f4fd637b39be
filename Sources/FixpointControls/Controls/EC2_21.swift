import FixpointDocuments

/// EC2.21: no network ACL inbound entry allows 0.0.0.0/0 or ::/0 to TCP 22 or 3389.
struct EC2NetworkACLNoPublicAdminPorts: Control {
  let id = "EC2.21"
  let title = "Network ACLs should not allow ingress from 0.0.0.0/0 to port 22 or port 3389"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.networkACL]
  let reads = paths("ingress")
  let parameters = [ControlParameter("ports", "remote administration ports", default: [22, 3389])]
  let remediation = "Remove (or narrow to known ranges) the network ACL's inbound allow entries from the internet to ports 22 and 3389."
  let terraform: TerraformFix? = TerraformFix("aws_network_acl_rule", "cidr_block / ipv6_cidr_block")
  let examples = ControlExamples(
    type: ResourceTypeName.networkACL,
    failing: ["id": "acl-1", "ingress": [
      "100": ["rule_number": 100, "protocol": "tcp", "rule_action": "allow", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"],
      "200": ["rule_number": 200, "protocol": "tcp", "rule_action": "allow", "from_port": 443, "to_port": 443, "cidr_ipv4": "0.0.0.0/0"],
    ]],
    passing: ["id": "acl-1", "ingress": [
      "200": ["rule_number": 200, "protocol": "tcp", "rule_action": "allow", "from_port": 443, "to_port": 443, "cidr_ipv4": "0.0.0.0/0"],
    ]])

  func offending(_ document: JSONValue, _ parameters: Parameters) -> [NetworkRule] {
    let entries = document["ingress"]?.objectValue ?? [:]
    return openRules(document, ports: parameters.ints("ports"), v4: true, v6: true, protocols: ["tcp"]).filter {
      entries[$0.key]?["rule_action"]?.stringValue == "allow"
    }
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let entries = self.offending(document, parameters)
    return entries.isEmpty
      ? .pass
      : .fail(paths: entries.map { at("ingress", $0.key) },
              reason: "inbound entries \(entries.map(\.key).joined(separator: ", ")) allow SSH or RDP from the internet")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    revoking(self.offending(document, parameters))
  }
}
