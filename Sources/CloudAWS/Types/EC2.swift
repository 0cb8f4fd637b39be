public import FixpointDocuments
import Foundation

extension AWSClient {
  static let ec2Version = "2016-11-15"

  func ec2(_ action: String, region: String, _ parameters: [(String, String)] = []) async throws -> XMLTree {
    try await self.query(.ec2, region: region, action: action, version: Self.ec2Version, parameters)
  }

  /// Every item of the list `listKey` across all pages (NextToken).
  func ec2Items(_ action: String, region: String, listKey: String, _ parameters: [(String, String)] = [], pageSize: Int? = 1000) async throws -> [XMLTree] {
    var items: [XMLTree] = []
    var token: String?
    repeat {
      var p = parameters
      if let pageSize { p.append(("MaxResults", "\(pageSize)")) }
      if let token { p.append(("NextToken", token)) }
      let page = try await self.ec2(action, region: region, p)
      items += page.items(listKey)
      token = page.string("nextToken").flatMap { $0.isEmpty ? nil : $0 }
    } while token != nil
    return items
  }
}

/// EC2 parameter lists: `Name.1`, `Name.2`, …
func numbered(_ name: String, _ values: [String]) -> [(String, String)] {
  values.enumerated().map { ("\(name).\($0.offset + 1)", $0.element) }
}

func ec2Filter(_ index: Int, _ name: String, _ values: [String]) -> [(String, String)] {
  [("Filter.\(index).Name", name)] + values.enumerated().map { ("Filter.\(index).Value.\($0.offset + 1)", $0.element) }
}

func ec2Tags(_ item: XMLTree) -> [String: String] {
  var tags: [String: String] = [:]
  for t in item.items("tagSet") { if let k = t.string("key") { tags[k] = t.string("value") ?? "" } }
  return tags
}

/// The `tags` field of any EC2 resource: CreateTags for new and changed, DeleteTags for removed.
let ec2TagsWriter = FieldWriter(
  validate: { try TagsField.validate($0) },
  write: { account, resource, desired in
    let id = resource.configuration["id"]?.stringValue ?? resource.externalID
    let current = resource.tags
    let wanted = (desired.objectValue ?? [:]).compactMapValues(\.stringValue)
    let removed = current.keys.filter { wanted[$0] == nil }.sorted()
    if !removed.isEmpty {
      _ = try await account.client.ec2(
        "DeleteTags", region: resource.region, [("ResourceId.1", id)] + removed.enumerated().map { ("Tag.\($0.offset + 1).Key", $0.element) })
    }
    let changed = wanted.filter { current[$0.key] != $0.value }.sorted { $0.key < $1.key }
    if !changed.isEmpty {
      var p = [("ResourceId.1", id)]
      for (i, (k, v)) in changed.enumerated() { p += [("Tag.\(i + 1).Key", k), ("Tag.\(i + 1).Value", v)] }
      _ = try await account.client.ec2("CreateTags", region: resource.region, p)
    }
  })

// MARK: - security_group

/// `security_group`: ingress and egress rules keyed by what they allow (`tcp 22-22 0.0.0.0/0`);
/// how many network interfaces use the group. Everything comes from DescribeSecurityGroups (its
/// permissions carry every rule; DescribeSecurityGroupRules adds only rule ids, and in moto it
/// scans every rule of the estate for each group asked about: a third of the moto time of
/// bench-loop 1000 went to it). Writes name rules by what they allow, not by rule id.
public struct SecurityGroup: BatchReadable {
  public let name = "security_group"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    let client = account.client
    let groups = try await client.ec2Items("DescribeSecurityGroups", region: region, listKey: "securityGroupInfo")
    let interfaces = try await client.ec2Items("DescribeNetworkInterfaces", region: region, listKey: "networkInterfaceSet")
    return groups.map { self.document($0, interfaces: interfaces, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let id = externalID.split(separator: "/").last.map(String.init) ?? externalID
    guard let group = try await self.groups(account, region: region, ids: [id]).first else { return nil }
    let interfaces = try await account.client.ec2Items("DescribeNetworkInterfaces", region: region, listKey: "networkInterfaceSet", ec2Filter(1, "group-id", [id]))
    return self.document(group, interfaces: interfaces, region: region, account: account.accountID)
  }

  /// The groups `ids` names, by GroupId. One unknown id fails the whole call: the answer is then
  /// empty (for a single id: it is gone; for several, `readMany` reads them one by one).
  func groups(_ account: AWSAccount, region: String, ids: [String]) async throws -> [XMLTree] {
    do {
      return try await account.client.ec2Items("DescribeSecurityGroups", region: region, listKey: "securityGroupInfo", numbered("GroupId", ids), pageSize: nil)
    } catch let error as AWSError where error.kind == .notFound {
      return []
    }
  }

  public func read(_ account: AWSAccount, stored: CloudResource, fields: Set<String>) async throws -> CloudResource? {
    try await self.readMany(account, region: stored.region, stored: [stored], fields: fields)[stored.externalID]
  }

  public var maxBatch: Int { 200 }

  /// Rules alone are one call for many groups; a group gone since (its id unknown, which fails
  /// the call) sends each to a read of its own. Any other field reads each group whole.
  public func readMany(_ account: AWSAccount, region: String, stored: [CloudResource], fields: Set<String>) async throws -> [String: CloudResource] {
    var out: [String: CloudResource] = [:]
    let rulesOnly = fields.isSubset(of: ["ingress", "egress"])
    let byID = Dictionary(stored.compactMap { r in r.configuration["id"]?.stringValue.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
    let groups = rulesOnly && byID.count == stored.count && !byID.isEmpty ? try await self.groups(account, region: region, ids: byID.keys.sorted()) : []
    guard !groups.isEmpty else {
      for r in stored { out[r.externalID] = try await self.read(account, region: region, externalID: r.externalID) }
      return out
    }
    for group in groups {
      guard let id = group.string("groupId"), let r = byID[id] else { continue }
      let rules = Self.ruleMaps(group)
      out[r.externalID] = r.replacing(["ingress": rules.ingress, "egress": rules.egress].filter { fields.contains($0.key) })
    }
    return out
  }

  func document(_ group: XMLTree, interfaces: [XMLTree], region: String, account: String) -> CloudResource {
    let id = group.string("groupId") ?? ""
    let (ingress, egress) = Self.ruleMaps(group)
    let users = interfaces.filter { $0.items("groupSet").contains { $0.string("groupId") == id } }.count
    let tags = ec2Tags(group)
    let arn = "arn:aws:ec2:\(region):\(account):security-group/\(id)"
    return CloudResource(
      type: self.name, externalID: arn, name: group.string("groupName") ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "name": .from(group.string("groupName")), "description": .from(group.string("groupDescription")),
        "vpc_id": .from(group.string("vpcId")), "ingress": ingress, "egress": egress,
        "network_interface_count": .number(Double(users)), "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  /// A group's `ingress` and `egress` maps from its permissions: one rule per source of each.
  static func ruleMaps(_ group: XMLTree) -> (ingress: JSONValue, egress: JSONValue) {
    func rules(_ list: String) -> JSONValue {
      var map: [String: JSONValue] = [:]
      for permission in group.items(list) {
        let proto = permission.string("ipProtocol") ?? "-1"
        let (from, to) = (permission.int("fromPort") ?? -1, permission.int("toPort") ?? -1)
        let sources: [(field: String, value: String?, item: XMLTree)] =
          permission.items("ipRanges").map { ("cidr_ipv4", $0.string("cidrIp"), $0) }
          + permission.items("ipv6Ranges").map { ("cidr_ipv6", $0.string("cidrIpv6"), $0) }
          + permission.items("prefixListIds").map { ("prefix_list_id", $0.string("prefixListId"), $0) }
          + permission.items("groups").map { ("referenced_group_id", $0.string("groupId"), $0) }
        for (field, value, item) in sources {
          guard let value, !value.isEmpty else { continue }
          map[Self.key(protocol: proto, from: from, to: to, source: value)] = [
            "protocol": .string(proto), "from_port": .number(Double(from)), "to_port": .number(Double(to)),
            "description": .string(item.string("description") ?? ""), field: .string(value),
          ]
        }
      }
      return .object(map)
    }
    return (rules("ipPermissions"), rules("ipPermissionsEgress"))
  }

  static func key(protocol proto: String, from: Int, to: Int, source: String) -> String {
    proto == "-1" ? "all \(source)" : "\(proto) \(from)-\(to) \(source)"
  }

  static func validateRules(_ v: JSONValue, field: String) throws {
    guard let rules = v == .null ? [:] : v.objectValue else { throw ChangeError(field: field, reason: "must be an object of rules") }
    for (key, rule) in rules {
      let f = "\(field)[\(key)]"
      let o = try Expect.object(rule, f, keys: ["rule_id", "protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_group_id", "description"])
      let proto = try Expect.string(o["protocol"] ?? .null, "\(f).protocol", oneOf: ["tcp", "udp", "icmp", "icmpv6", "-1"])
      if proto != "-1" {
        _ = try Expect.int(o["from_port"] ?? .null, "\(f).from_port", -1...65535)
        _ = try Expect.int(o["to_port"] ?? .null, "\(f).to_port", -1...65535)
      }
      let sources = ["cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_group_id"].filter { o[$0] != nil && o[$0] != .null }
      guard sources.count == 1 else { throw ChangeError(field: f, reason: "needs exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id, referenced_group_id") }
    }
  }

  static func rulesWriter(egress: Bool) -> FieldWriter {
    let field = egress ? "egress" : "ingress"
    return FieldWriter(
      validate: { try Self.validateRules($0, field: field) },
      write: { account, resource, desired in
        let groupID = resource.configuration["id"]?.stringValue ?? ""
        let current = resource.configuration[field]?.objectValue ?? [:]
        let wanted = desired.objectValue ?? [:]
        let revoke = current.filter { wanted[$0.key] == nil }.sorted { $0.key < $1.key }.map(\.value)
        if !revoke.isEmpty {
          _ = try await account.client.ec2(
            egress ? "RevokeSecurityGroupEgress" : "RevokeSecurityGroupIngress", region: resource.region,
            [("GroupId", groupID)] + Self.permissions(revoke, descriptions: false))
        }
        let add = wanted.filter { current[$0.key] == nil }.sorted { $0.key < $1.key }.map(\.value)
        guard !add.isEmpty else { return }
        _ = try await account.client.ec2(
          egress ? "AuthorizeSecurityGroupEgress" : "AuthorizeSecurityGroupIngress", region: resource.region,
          [("GroupId", groupID)] + Self.permissions(add, descriptions: true))
      })
  }

  /// `IpPermissions.N` parameters naming `rules` by what they allow (with their descriptions when
  /// authorizing; a revoke matches without them).
  static func permissions(_ rules: [JSONValue], descriptions: Bool) -> [(String, String)] {
    var p: [(String, String)] = []
    for (i, rule) in rules.enumerated() {
      let n = "IpPermissions.\(i + 1)"
      p.append(("\(n).IpProtocol", rule["protocol"]?.stringValue ?? "-1"))
      if rule["protocol"]?.stringValue != "-1" {
        p.append(("\(n).FromPort", "\(rule["from_port"]?.intValue ?? -1)"))
        p.append(("\(n).ToPort", "\(rule["to_port"]?.intValue ?? -1)"))
      }
      let description = descriptions ? rule["description"]?.stringValue ?? "" : ""
      func source(_ list: String, _ name: String, _ value: String?) {
        guard let value else { return }
        p.append(("\(n).\(list).1.\(name)", value))
        if !description.isEmpty { p.append(("\(n).\(list).1.Description", description)) }
      }
      source("IpRanges", "CidrIp", rule["cidr_ipv4"]?.stringValue)
      source("Ipv6Ranges", "CidrIpv6", rule["cidr_ipv6"]?.stringValue)
      source("PrefixListIds", "PrefixListId", rule["prefix_list_id"]?.stringValue)
      source("Groups", "GroupId", rule["referenced_group_id"]?.stringValue)
    }
    return p
  }

  public var writers: [String: FieldWriter] {
    ["ingress": Self.rulesWriter(egress: false), "egress": Self.rulesWriter(egress: true), "tags": ec2TagsWriter]
  }
}

// MARK: - ec2_instance

/// `ec2_instance`: metadata options (IMDSv2), public IP, security groups, tags.
public struct EC2Instance: BatchReadable {
  public let name = "ec2_instance"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    let reservations = try await account.client.ec2Items("DescribeInstances", region: region, listKey: "reservationSet")
    return reservations.flatMap { $0.items("instancesSet") }
      .filter { $0.at("instanceState", "name")?.text != "terminated" }
      .map { self.document($0, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let id = externalID.split(separator: "/").last.map(String.init) ?? externalID
    do {
      let reservations = try await account.client.ec2Items("DescribeInstances", region: region, listKey: "reservationSet", numbered("InstanceId", [id]), pageSize: nil)
      guard let item = reservations.flatMap({ $0.items("instancesSet") }).first, item.at("instanceState", "name")?.text != "terminated" else {
        return nil
      }
      return self.document(item, region: region, account: account.accountID)
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  public var maxBatch: Int { 200 }

  /// One DescribeInstances for many (an instance-id filter: unknown ids are left out, not errors).
  public func readMany(_ account: AWSAccount, region: String, stored: [CloudResource], fields: Set<String>) async throws -> [String: CloudResource] {
    let ids = stored.map { $0.externalID.split(separator: "/").last.map(String.init) ?? $0.externalID }
    let reservations = try await account.client.ec2Items("DescribeInstances", region: region, listKey: "reservationSet", ec2Filter(1, "instance-id", ids))
    var out: [String: CloudResource] = [:]
    for item in reservations.flatMap({ $0.items("instancesSet") }) where item.at("instanceState", "name")?.text != "terminated" {
      let r = self.document(item, region: region, account: account.accountID)
      out[r.externalID] = r
    }
    return out
  }

  func document(_ i: XMLTree, region: String, account: String) -> CloudResource {
    let id = i.string("instanceId") ?? ""
    let tags = ec2Tags(i)
    let meta = i.child("metadataOptions")
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account):instance/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "state": .from(i.at("instanceState", "name")?.text), "instance_type": .from(i.string("instanceType")),
        "metadata_options": [
          "http_tokens": .string(meta?.string("httpTokens") ?? "optional"),
          "http_endpoint": .string(meta?.string("httpEndpoint") ?? "enabled"),
          "http_put_response_hop_limit": .number(Double(meta?.int("httpPutResponseHopLimit") ?? 1)),
        ],
        "public_ip": .from(i.string("ipAddress")), "subnet_id": .from(i.string("subnetId")), "vpc_id": .from(i.string("vpcId")),
        "security_groups": .array(i.items("groupSet").compactMap { $0.string("groupId") }.sorted().map(JSONValue.string)),
        "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  public var writers: [String: FieldWriter] {
    [
      "metadata_options": FieldWriter(
        validate: { v in
          let o = try Expect.object(v, "metadata_options", keys: ["http_tokens", "http_endpoint", "http_put_response_hop_limit"])
          if let t = o["http_tokens"] { _ = try Expect.string(t, "metadata_options.http_tokens", oneOf: ["optional", "required"]) }
          if let e = o["http_endpoint"] { _ = try Expect.string(e, "metadata_options.http_endpoint", oneOf: ["enabled", "disabled"]) }
          if let h = o["http_put_response_hop_limit"] { _ = try Expect.int(h, "metadata_options.http_put_response_hop_limit", 1...64) }
        },
        write: { account, resource, v in
          var p = [("InstanceId", resource.configuration["id"]?.stringValue ?? "")]
          if let t = v["http_tokens"]?.stringValue { p.append(("HttpTokens", t)) }
          if let e = v["http_endpoint"]?.stringValue { p.append(("HttpEndpoint", e)) }
          if let h = v["http_put_response_hop_limit"]?.intValue { p.append(("HttpPutResponseHopLimit", "\(h)")) }
          _ = try await account.client.ec2("ModifyInstanceMetadataOptions", region: resource.region, p)
        }),
      "security_groups": FieldWriter(
        validate: { v in
          guard let a = v.arrayValue, !a.isEmpty, a.allSatisfy({ $0.stringValue?.hasPrefix("sg-") == true }) else {
            throw ChangeError(field: "security_groups", reason: "must be a non-empty list of sg- ids")
          }
        },
        write: { account, resource, v in
          let ids = (v.arrayValue ?? []).compactMap(\.stringValue)
          _ = try await account.client.ec2(
            "ModifyInstanceAttribute", region: resource.region, [("InstanceId", resource.configuration["id"]?.stringValue ?? "")] + numbered("GroupId", ids))
        }),
      "tags": ec2TagsWriter,
    ]
  }
}

// MARK: - ebs_volume

/// `ebs_volume`: encryption (not changeable in place), attachments, tags.
public struct EBSVolume: ResourceType {
  public let name = "ebs_volume"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await account.client.ec2Items("DescribeVolumes", region: region, listKey: "volumeSet", pageSize: 500).map { self.document($0, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let id = externalID.split(separator: "/").last.map(String.init) ?? externalID
    do {
      return try await account.client.ec2Items("DescribeVolumes", region: region, listKey: "volumeSet", numbered("VolumeId", [id]), pageSize: nil)
        .first.map { self.document($0, region: region, account: account.accountID) }
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  func document(_ v: XMLTree, region: String, account: String) -> CloudResource {
    let id = v.string("volumeId") ?? ""
    let tags = ec2Tags(v)
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account):volume/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "encrypted": .bool(v.bool("encrypted") ?? false), "kms_key_id": .from(v.string("kmsKeyId")),
        "size_gib": .from(v.int("size")), "volume_type": .from(v.string("volumeType")), "state": .from(v.string("status")),
        "attached_instances": .array(v.items("attachmentSet").compactMap { $0.string("instanceId") }.sorted().map(JSONValue.string)),
        "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  public var writers: [String: FieldWriter] { ["tags": ec2TagsWriter] }
}

// MARK: - ebs_encryption_default

/// `ebs_encryption_default`: whether new EBS volumes in a region are encrypted by default.
public struct EBSEncryptionDefault: ResourceType {
  public let name = "ebs_encryption_default"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.read(account, region: region, externalID: "arn:aws:ec2:\(region):\(account.accountID):ebs-encryption-default").map { [$0] } ?? []
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let answer = try await account.client.ec2("GetEbsEncryptionByDefault", region: region)
    return CloudResource(
      type: self.name, externalID: externalID, name: "EBS default encryption (\(region))", region: region,
      configuration: ["enabled": .bool(answer.bool("ebsEncryptionByDefault") ?? false)])
  }

  public var writers: [String: FieldWriter] {
    [
      "enabled": FieldWriter(
        validate: { _ = try Expect.bool($0, "enabled") },
        write: { account, resource, v in
          _ = try await account.client.ec2(v.boolValue == true ? "EnableEbsEncryptionByDefault" : "DisableEbsEncryptionByDefault", region: resource.region)
        })
    ]
  }
}

// MARK: - vpc

/// `vpc`: CIDR, default or not, and its flow logs keyed by what they capture and where to.
public struct VPC: ResourceType {
  public let name = "vpc"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    let vpcs = try await account.client.ec2Items("DescribeVpcs", region: region, listKey: "vpcSet")
    let logs = try await account.client.ec2Items("DescribeFlowLogs", region: region, listKey: "flowLogSet")
    return vpcs.map { self.document($0, flowLogs: logs, region: region, account: account.accountID) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let id = externalID.split(separator: "/").last.map(String.init) ?? externalID
    do {
      guard let vpc = try await account.client.ec2Items("DescribeVpcs", region: region, listKey: "vpcSet", numbered("VpcId", [id]), pageSize: nil).first else {
        return nil
      }
      let logs = try await account.client.ec2Items("DescribeFlowLogs", region: region, listKey: "flowLogSet", ec2Filter(1, "resource-id", [id]))
      return self.document(vpc, flowLogs: logs, region: region, account: account.accountID)
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  func document(_ v: XMLTree, flowLogs: [XMLTree], region: String, account: String) -> CloudResource {
    let id = v.string("vpcId") ?? ""
    let tags = ec2Tags(v)
    var logs: [String: JSONValue] = [:]
    for log in flowLogs where log.string("resourceId") == id {
      let type = log.string("logDestinationType") ?? "cloud-watch-logs"
      let destination = log.string("logDestination") ?? log.string("logGroupName") ?? ""
      let traffic = log.string("trafficType") ?? "ALL"
      logs["\(traffic) \(type) \(destination)"] = [
        "flow_log_id": .from(log.string("flowLogId")), "traffic_type": .string(traffic), "destination_type": .string(type),
        "destination": .string(destination), "status": .from(log.string("flowLogStatus")),
        "deliver_logs_permission_arn": .from(log.string("deliverLogsPermissionArn")),
      ]
    }
    return CloudResource(
      type: self.name, externalID: "arn:aws:ec2:\(region):\(account):vpc/\(id)", name: tags["Name"] ?? id, region: region, tags: tags,
      configuration: [
        "id": .string(id), "cidr_block": .from(v.string("cidrBlock")), "is_default": .bool(v.bool("isDefault") ?? false),
        "state": .from(v.string("state")), "flow_logs": .object(logs), "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  public var writers: [String: FieldWriter] {
    [
      "flow_logs": FieldWriter(
        validate: { v in
          guard let logs = v == .null ? [:] : v.objectValue else { throw ChangeError(field: "flow_logs", reason: "must be an object of flow logs") }
          for (k, log) in logs {
            let o = try Expect.object(log, "flow_logs[\(k)]", keys: ["flow_log_id", "traffic_type", "destination_type", "destination", "status", "deliver_logs_permission_arn"])
            _ = try Expect.string(o["traffic_type"] ?? .null, "flow_logs[\(k)].traffic_type", oneOf: ["ACCEPT", "REJECT", "ALL"])
            let type = try Expect.string(o["destination_type"] ?? .null, "flow_logs[\(k)].destination_type", oneOf: ["cloud-watch-logs", "s3"])
            _ = try Expect.string(o["destination"] ?? .null, "flow_logs[\(k)].destination")
            if type == "cloud-watch-logs" { _ = try Expect.string(o["deliver_logs_permission_arn"] ?? .null, "flow_logs[\(k)].deliver_logs_permission_arn") }
          }
        },
        write: { account, resource, desired in
          let id = resource.configuration["id"]?.stringValue ?? ""
          let current = resource.configuration["flow_logs"]?.objectValue ?? [:]
          let wanted = desired.objectValue ?? [:]
          let remove = current.filter { wanted[$0.key] == nil }.compactMap { $0.value["flow_log_id"]?.stringValue }.sorted()
          if !remove.isEmpty { _ = try await account.client.ec2("DeleteFlowLogs", region: resource.region, numbered("FlowLogId", remove)) }
          for (_, log) in wanted.filter({ current[$0.key] == nil }).sorted(by: { $0.key < $1.key }) {
            var p = [("ResourceId.1", id), ("ResourceType", "VPC"), ("TrafficType", log["traffic_type"]?.stringValue ?? "REJECT"),
                     ("LogDestinationType", log["destination_type"]?.stringValue ?? "s3")]
            if log["destination_type"]?.stringValue == "s3" {
              p.append(("LogDestination", log["destination"]?.stringValue ?? ""))
            } else {
              p.append(("LogGroupName", log["destination"]?.stringValue ?? ""))
              p.append(("DeliverLogsPermissionArn", log["deliver_logs_permission_arn"]?.stringValue ?? ""))
            }
            _ = try await account.client.ec2("CreateFlowLogs", region: resource.region, p)
          }
        }),
      "tags": ec2TagsWriter,
    ]
  }
}
