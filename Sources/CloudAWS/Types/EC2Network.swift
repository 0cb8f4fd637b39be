public import FixpointDocuments
import Foundation

/// The id at the end of an EC2 ARN (`arn:aws:ec2:…:subnet/subnet-1` → `subnet-1`).
func ec2ID(_ externalID: String) -> String { externalID.split(separator: "/").last.map(String.init) ?? externalID }

extension AWSClient {
  /// The items of `Describe…` for one id; nil when the cloud no longer has it.
  func ec2One(_ action: String, region: String, listKey: String, idParameter: String, id: String) async throws -> XMLTree? {
    do {
      return try await self.ec2Items(action, region: region, listKey: listKey, numbered(idParameter, [id]), pageSize: nil).first
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }
}

/// A boolean subnet attribute, written with ModifySubnetAttribute.
func subnetAttributeWriter(_ field: String, _ attribute: String) -> FieldWriter {
  FieldWriter(
    validate: { _ = try Expect.bool($0, field) },
    write: { account, resource, v in
      _ = try await account.client.ec2(
        "ModifySubnetAttribute", region: resource.region,
        [("SubnetId", ec2ID(resource.externalID)), ("\(attribute).Value", v.boolValue == true ? "true" : "false")])
    })
}

// MARK: - subnet

/// `subnet`: whether instances launched in it get public IPv4 or IPv6 addresses by themselves.
public struct Subnet: ResourceType {
  public let name = ResourceTypeName.subnet
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await account.client.ec2Items("DescribeSubnets", region: region, listKey: "subnetSet").map { self.document($0, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    try await account.client.ec2One("DescribeSubnets", region: region, listKey: "subnetSet", idParameter: "SubnetId", id: ec2ID(externalID))
      .map { self.document($0, region: region, account: account.accountID) }
  }

  func document(_ s: XMLTree, region: String, account: String) -> CloudResource {
    let id = s.string("subnetId") ?? ""
    let tags = ec2Tags(s)
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account):subnet/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "vpc_id": .from(s.string("vpcId")), "cidr_block": .from(s.string("cidrBlock")),
        "availability_zone": .from(s.string("availabilityZone")),
        "map_public_ip_on_launch": .bool(s.bool("mapPublicIpOnLaunch") ?? false),
        "assign_ipv6_address_on_creation": .bool(s.bool("assignIpv6AddressOnCreation") ?? false),
        "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  public var writers: [String: FieldWriter] {
    [
      "map_public_ip_on_launch": subnetAttributeWriter("map_public_ip_on_launch", "MapPublicIpOnLaunch"),
      "assign_ipv6_address_on_creation": subnetAttributeWriter("assign_ipv6_address_on_creation", "AssignIpv6AddressOnCreation"),
      "tags": ec2TagsWriter,
    ]
  }
}

// MARK: - network_acl

/// `network_acl`: inbound and outbound entries keyed by rule number, the subnets it guards. The
/// protocol is a name where it has one (`tcp`, `udp`, `icmp`, `icmpv6`; `-1` for all), as in
/// security group rules. The fixed `*` entry (rule 32767, deny everything) is left out: nothing can
/// change it.
public struct NetworkACL: ResourceType {
  public let name = ResourceTypeName.networkACL
  public let scope = ResourceScope.regional
  static let protocolNames = ["6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "-1": "-1", "all": "-1"]
  public static let protocolNumbers = ["tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "-1": "-1"]
  static let entryKeys: Set<String> = ["rule_number", "protocol", "rule_action", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "icmp_type", "icmp_code"]

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await account.client.ec2Items("DescribeNetworkAcls", region: region, listKey: "networkAclSet").map { self.document($0, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    try await account.client.ec2One("DescribeNetworkAcls", region: region, listKey: "networkAclSet", idParameter: "NetworkAclId", id: ec2ID(externalID))
      .map { self.document($0, region: region, account: account.accountID) }
  }

  static func entry(_ e: XMLTree) -> JSONValue {
    let proto = e.string("protocol") ?? "-1"
    var doc: [String: JSONValue] = [
      "rule_number": .from(e.int("ruleNumber")), "protocol": .string(Self.protocolNames[proto.lowercased()] ?? proto),
      "rule_action": .from(e.string("ruleAction")), "cidr_ipv4": .from(e.string("cidrBlock")), "cidr_ipv6": .from(e.string("ipv6CidrBlock")),
    ]
    if let range = e.child("portRange") {
      doc["from_port"] = .from(range.int("from"))
      doc["to_port"] = .from(range.int("to"))
    }
    if let icmp = e.child("icmpTypeCode") {
      doc["icmp_type"] = .from(icmp.int("type"))
      doc["icmp_code"] = .from(icmp.int("code"))
    }
    return JSONValue.object(doc).withoutNulls
  }

  func document(_ a: XMLTree, region: String, account: String) -> CloudResource {
    let id = a.string("networkAclId") ?? ""
    let tags = ec2Tags(a)
    var ingress: [String: JSONValue] = [:]
    var egress: [String: JSONValue] = [:]
    for e in a.items("entrySet") {
      guard let number = e.int("ruleNumber"), number != 32767 else { continue }
      if e.bool("egress") == true { egress["\(number)"] = Self.entry(e) } else { ingress["\(number)"] = Self.entry(e) }
    }
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account):network-acl/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "vpc_id": .from(a.string("vpcId")), "is_default": .bool(a.bool("default") ?? false),
        "subnets": .array(a.items("associationSet").compactMap { $0.string("subnetId") }.sorted().map(JSONValue.string)),
        "ingress": .object(ingress), "egress": .object(egress), "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  static func validateEntries(_ v: JSONValue, field: String) throws {
    guard let entries = v == .null ? [:] : v.objectValue else { throw ChangeError(field: field, reason: "must be an object of entries by rule number") }
    for (key, entry) in entries {
      let f = "\(field)[\(key)]"
      guard let number = Int(key), (1...32766).contains(number) else { throw ChangeError(field: f, reason: "the key must be a rule number in 1…32766") }
      let o = try Expect.object(entry, f, keys: Self.entryKeys)
      if let n = o["rule_number"], n.intValue != number { throw ChangeError(field: "\(f).rule_number", reason: "must equal the key") }
      let proto = try Expect.string(o["protocol"] ?? .null, "\(f).protocol", oneOf: Set(Self.protocolNumbers.keys))
      _ = try Expect.string(o["rule_action"] ?? .null, "\(f).rule_action", oneOf: ["allow", "deny"])
      guard (o["cidr_ipv4"] == nil) != (o["cidr_ipv6"] == nil) else { throw ChangeError(field: f, reason: "needs exactly one of cidr_ipv4 and cidr_ipv6") }
      _ = try Expect.string(o["cidr_ipv4"] ?? o["cidr_ipv6"] ?? .null, "\(f).cidr")
      if proto == "tcp" || proto == "udp" {
        _ = try Expect.int(o["from_port"] ?? .null, "\(f).from_port", 0...65535)
        _ = try Expect.int(o["to_port"] ?? .null, "\(f).to_port", 0...65535)
      }
    }
  }

  static func entryParameters(_ id: String, _ number: String, _ e: JSONValue, egress: Bool) -> [(String, String)] {
    let proto = e["protocol"]?.stringValue ?? "-1"
    var p = [("NetworkAclId", id), ("RuleNumber", number), ("Egress", egress ? "true" : "false"),
             ("Protocol", Self.protocolNumbers[proto] ?? proto), ("RuleAction", e["rule_action"]?.stringValue ?? "deny")]
    if let cidr = e["cidr_ipv4"]?.stringValue { p.append(("CidrBlock", cidr)) }
    if let cidr = e["cidr_ipv6"]?.stringValue { p.append(("Ipv6CidrBlock", cidr)) }
    if let from = e["from_port"]?.intValue, let to = e["to_port"]?.intValue { p += [("PortRange.From", "\(from)"), ("PortRange.To", "\(to)")] }
    if let type = e["icmp_type"]?.intValue { p.append(("Icmp.Type", "\(type)")) }
    if let code = e["icmp_code"]?.intValue { p.append(("Icmp.Code", "\(code)")) }
    return p
  }

  /// Deletes entries no longer wanted, replaces changed ones and creates new ones.
  static func entriesWriter(egress: Bool) -> FieldWriter {
    let field = egress ? "egress" : "ingress"
    return FieldWriter(
      validate: { try Self.validateEntries($0, field: field) },
      write: { account, resource, desired in
        let id = ec2ID(resource.externalID)
        let current = resource.configuration[field]?.objectValue ?? [:]
        let wanted = desired.objectValue ?? [:]
        for number in current.keys.filter({ wanted[$0] == nil }).sorted() {
          _ = try await account.client.ec2(
            "DeleteNetworkAclEntry", region: resource.region, [("NetworkAclId", id), ("RuleNumber", number), ("Egress", egress ? "true" : "false")])
        }
        for (number, entry) in wanted.sorted(by: { $0.key < $1.key }) {
          guard let old = current[number] else {
            _ = try await account.client.ec2("CreateNetworkAclEntry", region: resource.region, Self.entryParameters(id, number, entry, egress: egress))
            continue
          }
          if old != entry.withoutNulls {
            _ = try await account.client.ec2("ReplaceNetworkAclEntry", region: resource.region, Self.entryParameters(id, number, entry, egress: egress))
          }
        }
      })
  }

  public var writers: [String: FieldWriter] {
    ["ingress": Self.entriesWriter(egress: false), "egress": Self.entriesWriter(egress: true), "tags": ec2TagsWriter]
  }
}

// MARK: - ebs_snapshot

/// `ebs_snapshot`: the account's own snapshots, encryption, and who may create volumes from them
/// (`create_volume_permission`: the groups, `all` meaning anyone, and the account ids).
public struct EBSSnapshot: ResourceType {
  public let name = ResourceTypeName.ebsSnapshot
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    var out: [CloudResource] = []
    for s in try await account.client.ec2Items("DescribeSnapshots", region: region, listKey: "snapshotSet", [("Owner.1", "self")]) {
      out.append(try await self.document(account, s, region: region))
    }
    return out
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    guard let s = try await account.client.ec2One("DescribeSnapshots", region: region, listKey: "snapshotSet", idParameter: "SnapshotId", id: ec2ID(externalID))
    else { return nil }
    return try await self.document(account, s, region: region)
  }

  func document(_ account: AWSAccount, _ s: XMLTree, region: String) async throws -> CloudResource {
    let id = s.string("snapshotId") ?? ""
    let tags = ec2Tags(s)
    let permissions = try await account.client.ec2(
      "DescribeSnapshotAttribute", region: region, [("SnapshotId", id), ("Attribute", "createVolumePermission")]).items("createVolumePermission")
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account.accountID):snapshot/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "volume_id": .from(s.string("volumeId")), "encrypted": .bool(s.bool("encrypted") ?? false),
        "state": .from(s.string("status")), "start_time": .from(s.string("startTime")),
        "create_volume_permission": [
          "groups": .array(Set(permissions.compactMap { $0.string("group") }).sorted().map(JSONValue.string)),
          "user_ids": .array(Set(permissions.compactMap { $0.string("userId") }).sorted().map(JSONValue.string)),
        ],
        "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  static func strings(_ v: JSONValue?) -> Set<String> { Set(v?.arrayValue?.compactMap(\.stringValue) ?? []) }

  public var writers: [String: FieldWriter] {
    [
      "create_volume_permission": FieldWriter(
        validate: { v in
          let o = try Expect.object(v, "create_volume_permission", keys: ["groups", "user_ids"])
          for (key, list) in o {
            guard let items = list.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
              throw ChangeError(field: "create_volume_permission.\(key)", reason: "must be a list of strings")
            }
            if key == "groups", let bad = items.first(where: { $0.stringValue != "all" }) {
              throw ChangeError(field: "create_volume_permission.groups", reason: "the only group is all, not \(bad)")
            }
            if key == "user_ids", let bad = items.compactMap(\.stringValue).first(where: { $0.count != 12 || !$0.allSatisfy(\.isNumber) }) {
              throw ChangeError(field: "create_volume_permission.user_ids", reason: "\(bad) is not a 12-digit account id")
            }
          }
        },
        write: { account, resource, desired in
          let current = resource.configuration["create_volume_permission"]
          for (operation, groups, users) in [
            ("remove", Self.strings(current?["groups"]).subtracting(Self.strings(desired["groups"])),
             Self.strings(current?["user_ids"]).subtracting(Self.strings(desired["user_ids"]))),
            ("add", Self.strings(desired["groups"]).subtracting(Self.strings(current?["groups"])),
             Self.strings(desired["user_ids"]).subtracting(Self.strings(current?["user_ids"]))),
          ] where !groups.isEmpty || !users.isEmpty {
            _ = try await account.client.ec2(
              "ModifySnapshotAttribute", region: resource.region,
              [("SnapshotId", ec2ID(resource.externalID)), ("Attribute", "createVolumePermission"), ("OperationType", operation)]
                + numbered("UserGroup", groups.sorted()) + numbered("UserId", users.sorted()))
          }
        }),
      "tags": ec2TagsWriter,
    ]
  }
}
