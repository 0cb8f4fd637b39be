import FixpointDocuments

// The security group port controls: each evaluates its own ports and address family, and its fix
// revokes only the rules it fails on, keeping every other rule.

/// A control that fails on ingress rules open to the world on some ports.
protocol OpenPortControl: Control {
  /// The ports, from the parameters.
  func ports(_ parameters: Parameters) -> [Int]
  var ipv4: Bool { get }
  var ipv6: Bool { get }
  var what: String { get }
}

extension OpenPortControl {
  var resourceTypes: [String] { [ResourceTypeName.securityGroup] }
  var reads: [DocumentPath] { ingressPath }
  var remediation: String { "Revoke the ingress rules that open \(self.what) to \(self.sources); allow only known address ranges." }
  var terraform: TerraformFix? { TerraformFix("aws_vpc_security_group_ingress_rule", "cidr_ipv4 / cidr_ipv6") }
  var sources: String { [self.ipv4 ? "0.0.0.0/0" : nil, self.ipv6 ? "::/0" : nil].compactMap { $0 }.joined(separator: " or ") }

  func offending(_ document: JSONValue, _ parameters: Parameters) -> [NetworkRule] {
    openRules(document, ports: self.ports(parameters), v4: self.ipv4, v6: self.ipv6)
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    portVerdict(self.offending(document, parameters), what: self.what)
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    revoking(self.offending(document, parameters))
  }
}

/// Parsed once: `reads` is asked on every evaluation.
let ingressPath = paths("ingress")

/// An example group with one rule from `source` to `port`, and one harmless rule.
func exampleGroup(port: Int, v6: Bool) -> ControlExamples {
  let source: JSONValue = v6 ? ["cidr_ipv6": "::/0"] : ["cidr_ipv4": "0.0.0.0/0"]
  var open: [String: JSONValue] = ["protocol": "tcp", "from_port": .number(Double(port)), "to_port": .number(Double(port))]
  open.merge(source.objectValue!) { $1 }
  let key = "tcp \(port)-\(port) \(v6 ? "::/0" : "0.0.0.0/0")"
  let inside: JSONValue = ["protocol": "tcp", "from_port": .number(Double(port)), "to_port": .number(Double(port)), "cidr_ipv4": "10.0.0.0/8"]
  let insideKey = "tcp \(port)-\(port) 10.0.0.0/8"
  return ControlExamples(
    type: ResourceTypeName.securityGroup,
    failing: ["id": "sg-1", "name": "web", "ingress": .object([key: .object(open), insideKey: inside])],
    passing: ["id": "sg-1", "name": "web", "ingress": .object([insideKey: inside])])
}

/// EC2.53: no IPv4 world ingress to the remote administration ports (22, 3389).
struct EC2NoPublicAdminPortsIPv4: OpenPortControl {
  let id = "EC2.53"
  let title = "EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server administration ports"
  let severity = Severity.high
  let parameters = [ControlParameter("ports", "remote administration ports", default: [22, 3389])]
  let ipv4 = true, ipv6 = false
  let what = "SSH or RDP"
  let examples = exampleGroup(port: 22, v6: false)
  func ports(_ parameters: Parameters) -> [Int] { parameters.ints("ports") }
}

/// EC2.54: as EC2.53 for ::/0.
struct EC2NoPublicAdminPortsIPv6: OpenPortControl {
  let id = "EC2.54"
  let title = "EC2 security groups should not allow ingress from ::/0 to remote server administration ports"
  let severity = Severity.high
  let parameters = [ControlParameter("ports", "remote administration ports", default: [22, 3389])]
  let ipv4 = false, ipv6 = true
  let what = "SSH or RDP"
  let examples = exampleGroup(port: 3389, v6: true)
  func ports(_ parameters: Parameters) -> [Int] { parameters.ints("ports") }
}

/// EC2.13 (legacy, CIS v1.2 4.1): no IPv4 world ingress to port 22.
struct EC2NoPublicSSH: OpenPortControl {
  let id = "EC2.13"
  let title = "Security groups should not allow ingress from 0.0.0.0/0 or ::/0 to port 22"
  let severity = Severity.high
  let ipv4 = true, ipv6 = true
  let what = "SSH (22)"
  let examples = exampleGroup(port: 22, v6: false)
  func ports(_ parameters: Parameters) -> [Int] { [22] }
}

/// EC2.14 (legacy, CIS v1.2 4.2): no world ingress to port 3389.
struct EC2NoPublicRDP: OpenPortControl {
  let id = "EC2.14"
  let title = "Security groups should not allow ingress from 0.0.0.0/0 or ::/0 to port 3389"
  let severity = Severity.high
  let ipv4 = true, ipv6 = true
  let what = "RDP (3389)"
  let examples = exampleGroup(port: 3389, v6: false)
  func ports(_ parameters: Parameters) -> [Int] { [3389] }
}

/// EC2.19: no world ingress (either family) to the high-risk ports.
struct EC2NoPublicHighRiskPorts: OpenPortControl {
  let id = "EC2.19"
  let title = "Security groups should not allow unrestricted access to ports with high risk"
  let severity = Severity.critical
  let parameters = [ControlParameter(
    "ports", "high-risk ports",
    default: [20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300])]
  let ipv4 = true, ipv6 = true
  let what = "high-risk ports"
  let examples = exampleGroup(port: 3306, v6: false)
  func ports(_ parameters: Parameters) -> [Int] { parameters.ints("ports") }
}
