public import FixpointDocuments
import Foundation

// MARK: - rds_instance

/// `rds_instance`: backups, public access, deletion protection, minor upgrades, encryption.
public struct RDSInstance: BatchReadable {
  public let name = "rds_instance"
  public let scope = ResourceScope.regional
  static let booleans: [(xml: String, field: String)] = [
    ("PubliclyAccessible", "publicly_accessible"), ("DeletionProtection", "deletion_protection"),
    ("AutoMinorVersionUpgrade", "auto_minor_version_upgrade"),
  ]

  public init() {}

  func instances(_ client: AWSClient, region: String, _ parameters: [(String, String)]) async throws -> [XMLTree] {
    var out: [XMLTree] = []
    var marker: String?
    repeat {
      var p = parameters
      if let marker { p.append(("Marker", marker)) }
      let result = try await client.query(.rds, region: region, action: "DescribeDBInstances", version: "2014-10-31", p)
        .child("DescribeDBInstancesResult")
      out += result?.child("DBInstances")?.all("DBInstance") ?? []
      marker = result?.string("Marker").flatMap { $0.isEmpty ? nil : $0 }
    } while marker != nil
    return out
  }

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.instances(account.client, region: region, [("MaxRecords", "100")]).map { self.document($0, region: region) }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let id = externalID.split(separator: ":").last.map(String.init) ?? externalID
    do {
      return try await self.instances(account.client, region: region, [("DBInstanceIdentifier", id)]).first.map { self.document($0, region: region) }
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  public var maxBatch: Int { 100 }

  /// One DescribeDBInstances for many (a db-instance-id filter: unknown ids are left out).
  public func readMany(_ account: AWSAccount, region: String, stored: [CloudResource], fields: Set<String>) async throws -> [String: CloudResource] {
    var p = [("Filters.Filter.1.Name", "db-instance-id")]
    for (i, r) in stored.enumerated() { p.append(("Filters.Filter.1.Values.Value.\(i + 1)", r.name)) }
    var out: [String: CloudResource] = [:]
    for d in try await self.instances(account.client, region: region, p) {
      let r = self.document(d, region: region)
      out[r.externalID] = r
    }
    return out
  }

  func document(_ d: XMLTree, region: String) -> CloudResource {
    let id = d.string("DBInstanceIdentifier") ?? ""
    var tags: [String: String] = [:]
    for t in d.child("TagList")?.all("Tag") ?? [] { if let k = t.string("Key") { tags[k] = t.string("Value") ?? "" } }
    var doc: [String: JSONValue] = [
      "identifier": .string(id), "engine": .from(d.string("Engine")), "status": .from(d.string("DBInstanceStatus")),
      "backup_retention_period": .from(d.int("BackupRetentionPeriod")), "storage_encrypted": .bool(d.bool("StorageEncrypted") ?? false),
      "multi_az": .bool(d.bool("MultiAZ") ?? false), "tags": .object(tags.mapValues(JSONValue.string)),
    ]
    for b in Self.booleans { doc[b.field] = .bool(d.bool(b.xml) ?? false) }
    return CloudResource(
      type: self.name, externalID: d.string("DBInstanceArn") ?? id, name: id, region: region, tags: tags, configuration: .object(doc))
  }

  static func modify(_ parameter: String, _ value: @escaping @Sendable (JSONValue) -> String) -> @Sendable (AWSAccount, CloudResource, JSONValue) async throws -> Void {
    { account, resource, v in
      _ = try await account.client.query(
        .rds, region: resource.region, action: "ModifyDBInstance", version: "2014-10-31",
        [("DBInstanceIdentifier", resource.name), (parameter, value(v)), ("ApplyImmediately", "true")])
    }
  }

  public var writers: [String: FieldWriter] {
    var w: [String: FieldWriter] = [
      "backup_retention_period": FieldWriter(
        validate: { _ = try Expect.int($0, "backup_retention_period", 0...35) },
        write: Self.modify("BackupRetentionPeriod") { "\($0.intValue ?? 0)" })
    ]
    for b in Self.booleans {
      w[b.field] = FieldWriter(validate: { _ = try Expect.bool($0, b.field) }, write: Self.modify(b.xml) { $0.boolValue == true ? "true" : "false" })
    }
    return w
  }
}

// MARK: - cloudtrail_trail

/// `cloudtrail_trail`: multi-region, logging, log file validation, KMS key.
public struct CloudTrailTrail: ResourceType {
  public let name = "cloudtrail_trail"
  public let scope = ResourceScope.regional
  static let prefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

  public init() {}

  func call(_ client: AWSClient, _ region: String, _ operation: String, _ body: JSONValue) async throws -> JSONValue {
    try await client.json(.cloudtrail, region: region, target: Self.prefix + operation, body)
  }

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    let trails = try await self.call(account.client, region, "DescribeTrails", ["includeShadowTrails": false])["trailList"]?.arrayValue ?? []
    var out: [CloudResource] = []
    for trail in trails { out.append(try await self.document(account.client, region, trail)) }
    return out
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let trails = try await self.call(account.client, region, "DescribeTrails", ["trailNameList": [.string(externalID)], "includeShadowTrails": false])
    // Match the answer ourselves: a name list is a filter some implementations ignore.
    guard let trail = trails["trailList"]?.arrayValue?.first(where: { $0["TrailARN"]?.stringValue == externalID || $0["Name"]?.stringValue == externalID })
    else { return nil }
    return try await self.document(account.client, region, trail)
  }

  func document(_ client: AWSClient, _ region: String, _ t: JSONValue) async throws -> CloudResource {
    let name = t["Name"]?.stringValue ?? ""
    let arn = t["TrailARN"]?.stringValue ?? name
    let status = try await self.call(client, region, "GetTrailStatus", ["Name": .string(name)])
    return CloudResource(
      type: self.name, externalID: arn, name: name, region: region,
      configuration: [
        "name": .string(name), "home_region": t["HomeRegion"] ?? .null, "s3_bucket_name": t["S3BucketName"] ?? .null,
        "is_multi_region_trail": .bool(t["IsMultiRegionTrail"]?.boolValue ?? false),
        "include_global_service_events": .bool(t["IncludeGlobalServiceEvents"]?.boolValue ?? false),
        "log_file_validation_enabled": .bool(t["LogFileValidationEnabled"]?.boolValue ?? false),
        // An empty key id means no key (how UpdateTrail removes one).
        "kms_key_id": t["KmsKeyId"]?.stringValue.flatMap { $0.isEmpty ? nil : JSONValue.string($0) } ?? .null, "is_logging": .bool(status["IsLogging"]?.boolValue ?? false),
      ])
  }

  static func update(_ key: String) -> FieldWriter {
    FieldWriter(
      validate: { v in
        if key == "KmsKeyId" { if v != .null { _ = try Expect.string(v, "kms_key_id") } } else { _ = try Expect.bool(v, key) }
      },
      write: { account, resource, v in
        let value: JSONValue = key == "KmsKeyId" ? (v == .null ? "" : v) : v
        _ = try await account.client.json(
          .cloudtrail, region: resource.region, target: Self.prefix + "UpdateTrail", ["Name": .string(resource.name), key: value])
      })
  }

  public var writers: [String: FieldWriter] {
    [
      "is_logging": FieldWriter(
        validate: { _ = try Expect.bool($0, "is_logging") },
        write: { account, resource, v in
          _ = try await account.client.json(
            .cloudtrail, region: resource.region, target: Self.prefix + (v.boolValue == true ? "StartLogging" : "StopLogging"),
            ["Name": .string(resource.name)])
        }),
      "log_file_validation_enabled": Self.update("EnableLogFileValidation"),
      "is_multi_region_trail": Self.update("IsMultiRegionTrail"),
      "kms_key_id": Self.update("KmsKeyId"),
    ]
  }
}

// MARK: - cloudtrail_account

/// `cloudtrail_account`: the account's trails as one summary (`trails`: name → multi-Region,
/// logging, which management events it records: All, ReadOnly, WriteOnly or None), for controls
/// about the account as a whole such as CloudTrail.1. Read-only: trails are changed through
/// `cloudtrail_trail`.
public struct CloudTrailAccount: ResourceType {
  public let name = ResourceTypeName.cloudTrailAccount
  public let scope = ResourceScope.global

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.read(account, region: region, externalID: "arn:aws:cloudtrail::\(account.accountID):trails").map { [$0] } ?? []
  }

  func call(_ client: AWSClient, _ region: String, _ operation: String, _ body: JSONValue) async throws -> JSONValue {
    try await client.json(.cloudtrail, region: region, target: CloudTrailTrail.prefix + operation, body)
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let home = CloudResource.callRegion(region)
    // Shadow trails are the multi-Region trails of other home Regions: they count for the account.
    let trails = try await self.call(account.client, home, "DescribeTrails", ["includeShadowTrails": true])["trailList"]?.arrayValue ?? []
    var summary: [String: JSONValue] = [:]
    for t in trails {
      guard let arn = t["TrailARN"]?.stringValue, let name = t["Name"]?.stringValue else { continue }
      let trailRegion = t["HomeRegion"]?.stringValue ?? home
      let status = try await self.call(account.client, trailRegion, "GetTrailStatus", ["Name": .string(arn)])
      let selectors = try await self.call(account.client, trailRegion, "GetEventSelectors", ["TrailName": .string(arn)])
      summary[name] = [
        "arn": .string(arn), "home_region": .string(trailRegion), "is_multi_region_trail": .bool(t["IsMultiRegionTrail"]?.boolValue ?? false),
        "is_logging": .bool(status["IsLogging"]?.boolValue ?? false), "management_events": .string(Self.managementEvents(selectors)),
      ]
    }
    return CloudResource(
      type: self.name, externalID: externalID, name: "CloudTrail (account)", region: "global", configuration: ["trails": .object(summary)])
  }

  /// Which management events a trail's selectors record: All, ReadOnly, WriteOnly or None.
  public static func managementEvents(_ answer: JSONValue) -> String {
    var kinds = Set<String>()
    for s in answer["EventSelectors"]?.arrayValue ?? [] where s["IncludeManagementEvents"]?.boolValue ?? true {
      kinds.insert(s["ReadWriteType"]?.stringValue ?? "All")
    }
    for s in answer["AdvancedEventSelectors"]?.arrayValue ?? [] {
      let fields = s["FieldSelectors"]?.arrayValue ?? []
      guard fields.contains(where: { $0["Field"]?.stringValue == "eventCategory" && $0["Equals"]?.arrayValue?.contains("Management") == true })
      else { continue }
      switch fields.first(where: { $0["Field"]?.stringValue == "readOnly" })?["Equals"]?.arrayValue?.first?.stringValue {
      case "true": kinds.insert("ReadOnly")
      case "false": kinds.insert("WriteOnly")
      default: kinds.insert("All")
      }
    }
    if kinds.contains("All") || kinds.isSuperset(of: ["ReadOnly", "WriteOnly"]) { return "All" }
    return kinds.first ?? "None"
  }

  public var writers: [String: FieldWriter] { [:] }
}

// MARK: - guardduty_detector

/// `guardduty_detector`: one per region; "no detector" is itself a state (`enabled: false`).
public struct GuardDutyDetector: ResourceType {
  public let name = "guardduty_detector"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.read(account, region: region, externalID: "arn:aws:guardduty:\(region):\(account.accountID):detector").map { [$0] } ?? []
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let ids = try await account.client.restJSON(.guardduty, region: region, operation: "ListDetectors", method: "GET", path: "/detector")["detectorIds"]?
      .arrayValue?.compactMap(\.stringValue) ?? []
    var doc: [String: JSONValue] = ["enabled": false, "detector_id": .null]
    if let id = ids.first {
      let d = try await account.client.restJSON(.guardduty, region: region, operation: "GetDetector", method: "GET", path: "/detector/\(SigV4.encode(id))")
      doc = [
        "enabled": .bool(d["status"]?.stringValue == "ENABLED"), "detector_id": .string(id),
        "finding_publishing_frequency": d["findingPublishingFrequency"] ?? .null,
      ]
    }
    return CloudResource(type: self.name, externalID: externalID, name: "GuardDuty (\(region))", region: region, configuration: .object(doc))
  }

  public var writers: [String: FieldWriter] {
    [
      "enabled": FieldWriter(
        validate: { _ = try Expect.bool($0, "enabled") },
        write: { account, resource, v in
          if let id = resource.configuration["detector_id"]?.stringValue {
            _ = try await account.client.restJSON(
              .guardduty, region: resource.region, operation: "UpdateDetector", method: "POST", path: "/detector/\(SigV4.encode(id))", ["enable": v])
          } else if v.boolValue == true {
            _ = try await account.client.restJSON(.guardduty, region: resource.region, operation: "CreateDetector", method: "POST", path: "/detector", ["enable": true])
          }
        }),
      "finding_publishing_frequency": FieldWriter(
        validate: { _ = try Expect.string($0, "finding_publishing_frequency", oneOf: ["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"]) },
        write: { account, resource, v in
          guard let id = resource.configuration["detector_id"]?.stringValue else {
            throw ChangeError(field: "finding_publishing_frequency", reason: "there is no detector in \(resource.region); enable it first")
          }
          _ = try await account.client.restJSON(
            .guardduty, region: resource.region, operation: "UpdateDetector", method: "POST", path: "/detector/\(SigV4.encode(id))",
            ["findingPublishingFrequency": v])
        }),
    ]
  }
}

// MARK: - kms_key

/// `kms_key`: state, manager, spec and automatic rotation.
public struct KMSKey: ResourceType {
  public let name = "kms_key"
  public let scope = ResourceScope.regional

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    var ids: [String] = []
    var marker: JSONValue = .null
    repeat {
      var body: JSONValue = ["Limit": 1000]
      if marker != .null { body = ["Limit": 1000, "Marker": marker] }
      let page = try await account.client.json(.kms, region: region, target: "TrentService.ListKeys", body)
      ids += page["Keys"]?.arrayValue?.compactMap { $0["KeyId"]?.stringValue } ?? []
      marker = page["Truncated"]?.boolValue == true ? (page["NextMarker"] ?? .null) : .null
    } while marker != .null
    var out: [CloudResource] = []
    for id in ids { if let r = try await self.read(account, region: region, externalID: id) { out.append(r) } }
    return out
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let meta: JSONValue
    do {
      meta = try await account.client.json(.kms, region: region, target: "TrentService.DescribeKey", ["KeyId": .string(externalID)])["KeyMetadata"] ?? .null
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
    let id = meta["KeyId"]?.stringValue ?? externalID
    let manager = meta["KeyManager"]?.stringValue ?? "CUSTOMER"
    let spec = meta["KeySpec"]?.stringValue ?? meta["CustomerMasterKeySpec"]?.stringValue ?? "SYMMETRIC_DEFAULT"
    let state = meta["KeyState"]?.stringValue ?? ""
    var rotation: JSONValue = .null
    if manager == "CUSTOMER", spec == "SYMMETRIC_DEFAULT", state != "PendingDeletion" {
      rotation = try await account.client.json(.kms, region: region, target: "TrentService.GetKeyRotationStatus", ["KeyId": .string(id)])["KeyRotationEnabled"] ?? .null
    }
    return CloudResource(
      type: self.name, externalID: meta["Arn"]?.stringValue ?? id, name: id, region: region,
      configuration: [
        "key_id": .string(id), "key_state": .string(state), "key_manager": .string(manager), "key_spec": .string(spec),
        "description": meta["Description"] ?? .null, "rotation_enabled": rotation,
      ])
  }

  public var writers: [String: FieldWriter] {
    [
      "rotation_enabled": FieldWriter(
        validate: { _ = try Expect.bool($0, "rotation_enabled") },
        write: { account, resource, v in
          _ = try await account.client.json(
            .kms, region: resource.region, target: v.boolValue == true ? "TrentService.EnableKeyRotation" : "TrentService.DisableKeyRotation",
            ["KeyId": .string(resource.name)])
        })
    ]
  }
}
