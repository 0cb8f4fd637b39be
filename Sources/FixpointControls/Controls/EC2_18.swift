import FixpointDocuments

/// EC2.18: ingress open to the world only on the authorized ports (TCP 80 and 443 by default).
struct EC2OnlyAuthorizedPublicPorts: Control {
  let id = "EC2.18"
  let title = "Security groups should only allow unrestricted incoming traffic for authorized ports"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.securityGroup]
  let reads = paths("ingress")
  let parameters = [
    ControlParameter("authorized_tcp_ports", "TCP ports that may be open to the internet", default: [80, 443]),
    ControlParameter("authorized_udp_ports", "UDP ports that may be open to the internet", default: []),
  ]
  let remediation = "Revoke ingress rules open to 0.0.0.0/0 or ::/0 on ports other than the authorized ones."
  let terraform: TerraformFix? = TerraformFix("aws_vpc_security_group_ingress_rule", "from_port / to_port")
  let examples = ControlExamples(
    type: ResourceTypeName.securityGroup,
    failing: ["id": "sg-2", "ingress": ["tcp 80-8080 0.0.0.0/0": ["protocol": "tcp", "from_port": 80, "to_port": 8080, "cidr_ipv4": "0.0.0.0/0"]]],
    passing: ["id": "sg-2", "ingress": ["tcp 443-443 0.0.0.0/0": ["protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "0.0.0.0/0"]]])

  func offending(_ document: JSONValue, _ parameters: Parameters) -> [NetworkRule] {
    let tcp = Set(parameters.ints("authorized_tcp_ports"))
    let udp = Set(parameters.ints("authorized_udp_ports"))
    return NetworkRule.all(document, "ingress").filter { rule in
      guard rule.openToAll else { return false }
      let allowed: Set<Int>
      switch rule.proto {
      case "tcp": allowed = tcp
      case "udp": allowed = udp
      default: return true
      }
      guard rule.from >= 0, rule.to >= rule.from else { return true }
      // Every port of the range must be authorized.
      return allowed.filter { rule.from <= $0 && $0 <= rule.to }.count != rule.to - rule.from + 1
    }
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    portVerdict(self.offending(document, parameters), what: "unauthorized ports")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    revoking(self.offending(document, parameters))
  }
}
