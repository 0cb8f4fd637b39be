import Crypto
import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointIaC
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// IaC definitions: uploaded, parsed once, versioned under their name, and compared with the live
/// resources of their scope by a scan (`RunScan` with a definition). A comparison records each
/// changed resource as a drift of source `iac:<definition id>` (one open per resource and
/// definition, as baseline drifts) and keeps the whole report (changed, missing, unmanaged,
/// coverage) for `GetIaCDefinition`.
struct IaCDefinitions: Sendable {
  let store: Store
  let inventory: Fixpoint_V1_InventoryService.Client<HTTP2ClientTransport.Posix>

  // MARK: Upload, list, get, delete

  func upload(_ request: Fixpoint_V1_UploadIaCDefinitionRequest, by actor: Principal) async throws -> Fixpoint_V1_IaCDefinition {
    try Self.validateName(request.name)
    guard !request.content.isEmpty else { throw ServiceError.invalidArgument(field: "content", reason: "is empty") }
    guard request.content.count <= IaC.maxBytes else {
      throw ServiceError.invalidArgument(field: "content", reason: "is \(request.content.count) bytes; the limit is \(IaC.maxBytes)")
    }
    let requested: IaCFormat?
    if request.format == .unspecified {
      requested = nil
    } else {
      guard let given = request.format.iac else { throw ServiceError.invalidArgument(field: "format", reason: "unknown format \(request.format.rawValue)") }
      requested = given
    }
    // Read once: detected, parsed, and the copy to keep.
    let (format, parsed, kept): (IaCFormat, ParsedDefinition, Data)
    do {
      (format, parsed, kept) = try IaC.read(request.content, format: requested)
    } catch let error as IaCError {
      let reason = requested.map { "\($0.rawValue): \(error)" } ?? "\(error); give the format if it is one of them"
      throw ServiceError.invalidArgument(field: "content", reason: reason)
    }
    // A re-upload without a scope keeps the definition's scope, as it keeps its ignore rules.
    var scope = request.scope
    if scope == Fixpoint_V1_IaCScope(), let existing = try await self.store.read({ db in
      try DefinitionRecord.filter(Column("name") == request.name).fetchOne(db)
    }) {
      scope = try existing.proto(latest: nil).scope
    }
    try await self.validate(scope, format: format)
    let requestedIgnore = request.ignore
    if !requestedIgnore.isEmpty {
      guard requestedIgnore.utf8.count <= 1 << 20 else { throw ServiceError.invalidArgument(field: "ignore", reason: "is over 1 MiB") }
      do { _ = try IgnoreRules(parsing: requestedIgnore) } catch { throw ServiceError.invalidArgument(field: "ignore", reason: "\(error)") }
    }
    let declared = Self.encode(parsed.resources)
    let unsupported = JSONValue.object(parsed.unsupported.mapValues { .number(Double($0)) }).description
    let sha = SHA256.hash(data: request.content).map { String(format: "%02x", $0) }.joined()
    let count = parsed.resources.count { !$0.type.isEmpty }
    let chosenScope = scope
    let stored = try await RequestLog.once(self.store, method: "UploadIaCDefinition", request: request, requestID: request.requestID) { db in
      let now = Date().timeIntervalSince1970
      var ignore = requestedIgnore
      let definition = try DefinitionRecord.filter(Column("name") == request.name).fetchOne(db)
      if let existing = definition {
        guard existing.format == format.proto.rawValue else {
          throw ServiceError.invalidArgument(
            field: "format", reason: "'\(request.name)' holds \(Fixpoint_V1_IaCDefinition.Format(rawValue: existing.format)?.iac?.rawValue ?? "another format"); a name keeps its format")
        }
        if ignore.isEmpty && !request.dropIgnore { ignore = existing.ignore_rules }
      }
      var record = definition ?? DefinitionRecord(
        id: RandomID.make(prefix: "iac"), name: request.name, format: format.proto.rawValue, provider_id: "", regions: "[]", resource_types: "[]",
        ignore_rules: "", stack: "", version: 0, created_at: now)
      let latest = try VersionRecord.filter(Column("definition_id") == record.id && Column("version") == record.version).fetchOne(db)
      let newScope = (chosenScope.providerID, Self.json(chosenScope.regions), Self.json(chosenScope.resourceTypes), chosenScope.stack)
      // The same file with the same scope and rules again is the same version.
      if let latest, latest.sha256 == sha, (record.provider_id, record.regions, record.resource_types, record.stack) == newScope, record.ignore_rules == ignore {
        return try record.proto(latest: latest)
      }
      (record.provider_id, record.regions, record.resource_types, record.stack) = newScope
      record.ignore_rules = ignore
      record.version += 1
      if definition == nil { try record.insert(db) } else { try record.update(db) }
      let version = VersionRecord(
        definition_id: record.id, version: record.version, sha256: sha, content: kept, declared: declared, unsupported: unsupported,
        resource_count: count, uploaded_at: now, uploaded_by: actor.subject, uploaded_role: actor.role.rawValue)
      try version.insert(db)
      return try record.proto(latest: version)
    }
    return stored
  }

  func list(_ request: Fixpoint_V1_ListIaCDefinitionsRequest) async throws -> Fixpoint_V1_ListIaCDefinitionsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let rows = try await self.store.read { db in
      let definitions = try DefinitionRecord.fetchAll(db, sql: "SELECT * FROM iac_definition ORDER BY name LIMIT ? OFFSET ?", arguments: [page.size, page.offset])
      return try definitions.map { d in
        (d, try VersionRecord.filter(Column("definition_id") == d.id && Column("version") == d.version).fetchOne(db))
      }
    }
    return try .with {
      ($0.definitions, $0.nextPageToken) = page.fit(try rows.map { try $0.0.proto(latest: $0.1) })
    }
  }

  func get(_ reference: String) async throws -> Fixpoint_V1_IaCDefinition {
    try await self.store.read { db in
      let definition = try Self.find(reference, in: db)
      let versions = try VersionRecord.filter(Column("definition_id") == definition.id).order(Column("version").desc).fetchAll(db)
      var out = try definition.proto(latest: versions.first)
      out.content = versions.first?.content ?? Data()
      out.versions = versions.map(\.summary)
      out.declared = try Self.decode(versions.first?.declared ?? "[]").map { r in
        .with {
          $0.address = r.address
          $0.sourceType = r.sourceType
          $0.type = r.type
          $0.key = r.key ?? ""
          $0.action = r.action
        }
      }
      if let report = try Data.fetchOne(
        db, sql: "SELECT report FROM iac_report WHERE definition_id = ? ORDER BY generated_at DESC, rowid DESC LIMIT 1", arguments: [definition.id])
      {
        out.latestReport = try Fixpoint_V1_IaCDriftReport(serializedBytes: report)
      }
      return out
    }
  }

  /// Removes a definition, its versions and reports; its open drifts are resolved.
  func delete(_ request: Fixpoint_V1_DeleteIaCDefinitionRequest, by actor: Principal, outbox: Outbox) async throws -> Fixpoint_V1_DeleteIaCDefinitionResponse {
    try await RequestLog.once(self.store, method: "DeleteIaCDefinition", request: request, requestID: request.requestID) { db in
      let definition = try Self.find(request.definitionID, in: db)
      let source = "iac:\(definition.id)"
      for var drift in try DriftRecord.filter(Column("source") == source && Column("open_key") != nil).fetchAll(db) {
        try Scanner.resolve(&drift, comment: "definition \(definition.name) was deleted", now: Date().timeIntervalSince1970, by: actor, outbox: outbox, in: db)
      }
      try definition.delete(db)
      return .with { $0.definitionID = definition.id }
    }
  }

  static func find(_ reference: String, in db: Database) throws -> DefinitionRecord {
    try Validate.text(reference, field: "definition_id", max: 128)
    let row = reference.hasPrefix("iac_")
      ? try DefinitionRecord.fetchOne(db, key: reference)
      : try DefinitionRecord.filter(Column("name") == reference).fetchOne(db)
    guard let row else { throw ServiceError.notFound(kind: "IaC definition", id: reference) }
    return row
  }

  static func validateName(_ name: String) throws {
    try Validate.text(name, field: "name", max: 128)
    guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-/".contains($0)) }), !name.hasPrefix("iac_") else {
      throw ServiceError.invalidArgument(field: "name", reason: "letters, digits, '.', '_', '-' and '/' only, not starting with iac_")
    }
  }

  /// The scope names a provider inventory has (required except for Kubernetes), real-looking
  /// regions and types inventory knows.
  private func validate(_ scope: Fixpoint_V1_IaCScope, format: IaCFormat) async throws {
    if scope.providerID.isEmpty {
      guard format == .kubernetes else {
        throw ServiceError.invalidArgument(field: "scope.provider_id", reason: "is required: the inventory provider whose resources the definition manages")
      }
    } else {
      try Validate.id(scope.providerID, field: "scope.provider_id", prefix: "prv")
      do {
        _ = try await self.inventory.getProvider(.with { $0.providerID = scope.providerID })
      } catch let error as RPCError where error.code == .notFound {
        throw ServiceError.invalidArgument(field: "scope.provider_id", reason: "no provider \(scope.providerID) in inventory")
      }
    }
    guard scope.regions.count <= 64, scope.resourceTypes.count <= 64 else {
      throw ServiceError.invalidArgument(field: "scope", reason: "at most 64 regions and 64 types")
    }
    for (i, region) in scope.regions.enumerated() {
      guard (1...32).contains(region.count), region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
        throw ServiceError.invalidArgument(field: "scope.regions[\(i)]", reason: "'\(region.prefix(40))' is not a region name")
      }
    }
    for (i, type) in scope.resourceTypes.enumerated() where ResourceSchema.byType[type] == nil {
      throw ServiceError.invalidArgument(field: "scope.resource_types[\(i)]", reason: "unknown type '\(type.prefix(40))'")
    }
    if !scope.stack.isEmpty {
      guard format == .cloudFormation else { throw ServiceError.invalidArgument(field: "scope.stack", reason: "only a CloudFormation template has a stack") }
      guard scope.regions.count == 1 else { throw ServiceError.invalidArgument(field: "scope.regions", reason: "a stack lives in one region: give exactly one") }
      do {
        _ = try await self.stackKeys(providerID: scope.providerID, region: scope.regions[0], stack: scope.stack)
      } catch let error as RPCError where error.code == .notFound || error.code == .invalidArgument {
        throw ServiceError.invalidArgument(field: "scope.stack", reason: error.message)
      }
    }
  }

  // MARK: Comparing

  /// The latest version of a definition against the live resources of its scope.
  func compare(_ definitionID: String, job: String, scanner: Scanner, progress: (Int, String) async throws -> Void) async throws -> (seen: Int, found: Int64) {
    let (definition, version) = try await self.store.read { db in
      let d = try Self.find(definitionID, in: db)
      guard let v = try VersionRecord.filter(Column("definition_id") == d.id && Column("version") == d.version).fetchOne(db) else {
        throw ServiceError.notFound(kind: "IaC definition version", id: "\(d.id)@\(d.version)")
      }
      return (d, v)
    }
    var declared = try Self.decode(version.declared)
    let regions = (try? JSONDecoder().decode([String].self, from: Data(definition.regions.utf8))) ?? []
    let scopedTypes = (try? JSONDecoder().decode([String].self, from: Data(definition.resource_types.utf8))) ?? []
    if !definition.stack.isEmpty, let region = regions.first {
      // A template's logical ids become live resources through the stack's physical ids.
      let physical = try await self.stackKeys(providerID: definition.provider_id, region: region, stack: definition.stack)
      for i in declared.indices {
        guard let id = physical[declared[i].address] else { continue }
        declared[i].key = declared[i].type == ResourceTypeName.rdsInstance ? id.lowercased() : id
        declared[i].region = region
      }
    }
    let types = scopedTypes.isEmpty ? Array(Set(declared.map(\.type).filter { !$0.isEmpty })).sorted() : scopedTypes
    var live: [LiveResource] = []
    var protos: [String: Fixpoint_V1_Resource] = [:]
    for type in types {
      var token = ""
      repeat {
        let page = try await self.inventory.listResources(.with {
          $0.providerID = definition.provider_id
          $0.type = type
          $0.status = .active
          $0.pageSize = Int32(scanner.pageSize)
          $0.pageToken = token
          if regions.count == 1 { $0.region = regions[0] }
        })
        for resource in page.resources where regions.isEmpty || regions.contains(resource.region) {
          live.append(LiveResource(
            id: resource.id, type: resource.type, externalID: resource.externalID, name: resource.name, region: resource.region,
            document: try JSONValue(resource.configuration)))
          protos[resource.id] = resource
        }
        token = page.nextPageToken
        try await progress(live.count, "read \(live.count) live resources")
      } while !token.isEmpty
    }
    let ignore = (try? IgnoreRules(parsing: definition.ignore_rules)) ?? IgnoreRules()
    let result = IaCComparison.compare(declared: declared, live: live, ignore: ignore, defaultRegion: regions.count == 1 ? regions[0] : nil)

    let source = "iac:\(definition.id)"
    let comparedWith = "iac:\(definition.id)@\(version.version)"
    var report = Fixpoint_V1_IaCDriftReport()
    var changedIDs = Set<String>()
    for changed in result.changed {
      guard let resource = protos[changed.live.id] else { continue }
      let found = DriftClass.of(type: resource.type, expected: changed.expected, live: changed.live.document, overrides: scanner.overrides)
      _ = try await scanner.record(resource: resource, source: source, comparedWith: comparedWith, found: found)
      changedIDs.insert(resource.id)
      report.changed.append(.with {
        $0.address = changed.declared.address
        $0.sourceType = changed.declared.sourceType
        $0.resource = resource.ref
        $0.differences = changed.differences.map(\.proto)
        $0.kind = found?.kind.proto ?? .configuration
        $0.severity = found?.severity.proto ?? .low
        $0.controlID = found?.brokenControls.first ?? ""
      })
    }
    // This definition's open drifts, read once: the changed ones' ids go in the report; the
    // ones the comparison no longer sees are resolved.
    let open = try await self.store.read { db in
      try Row.fetchAll(db, sql: "SELECT resource_id, id FROM drift WHERE open_key IS NOT NULL AND source = ?", arguments: [source])
        .map { (resourceID: $0["resource_id"] as String, driftID: $0["id"] as String) }
    }
    let driftIDs = Dictionary(open.map { ($0.resourceID, $0.driftID) }, uniquingKeysWith: { a, _ in a })
    for i in report.changed.indices { report.changed[i].driftID = driftIDs[report.changed[i].resource.resourceID] ?? "" }
    for (resourceID, _) in open where !changedIDs.contains(resourceID) {
      _ = try await scanner.record(resourceID: resourceID, source: source, gone: "the live configuration matches \(definition.name) v\(version.version)")
    }
    report.definitionID = definition.id
    report.version = Int32(version.version)
    report.jobID = job
    report.generatedAt = .init(date: Date())
    report.missing = result.missing.map { m in
      .with {
        $0.address = m.declared.address
        $0.sourceType = m.declared.sourceType
        $0.type = m.declared.type
        $0.key = m.declared.key ?? ""
        $0.reason = m.reason
      }
    }
    report.unmanaged = result.unmanaged.compactMap { protos[$0.id]?.ref }
    report.inSync = Int32(result.inSync.count)
    report.coverage = result.coverageByType.sorted { $0.key < $1.key }.map { Self.coverage($0.key, $0.value) } + [Self.coverage("*", result.coverage)]
    let bytes = try report.serializedData()
    try await self.store.write { db in
      try db.execute(
        sql: "INSERT INTO iac_report (job_id, definition_id, version, generated_at, report) VALUES (?, ?, ?, ?, ?)",
        arguments: [job, definition.id, version.version, Date().timeIntervalSince1970, bytes])
      // Reports are kept for the 20 latest comparisons of each definition.
      try db.execute(
        sql: """
          DELETE FROM iac_report WHERE definition_id = ? AND job_id NOT IN
            (SELECT job_id FROM iac_report WHERE definition_id = ? ORDER BY generated_at DESC LIMIT 20)
          """,
        arguments: [definition.id, definition.id])
    }
    return (live.count, Int64(result.changed.count))
  }

  /// A stack's logical id → physical id, through inventory (which reads CloudFormation now).
  func stackKeys(providerID: String, region: String, stack: String) async throws -> [String: String] {
    let answer = try await self.inventory.listStackResources(.with {
      $0.providerID = providerID
      $0.region = region
      $0.stack = stack
    })
    return Dictionary(answer.resources.map { ($0.logicalID, $0.physicalID) }, uniquingKeysWith: { a, _ in a })
  }

  static func coverage(_ type: String, _ c: IaCComparison.Coverage) -> Fixpoint_V1_IaCCoverage {
    .with {
      $0.type = type
      $0.managed = Int32(c.managed)
      $0.unmanaged = Int32(c.unmanaged)
      $0.ratio = c.ratio
    }
  }

  // MARK: Stored forms

  static func json(_ strings: [String]) -> String { JSONValue.array(strings.map(JSONValue.string)).description }

  static func encode(_ resources: [DeclaredResource]) -> String {
    JSONValue.array(resources.map { r in
      [
        "address": .string(r.address), "source_type": .string(r.sourceType), "type": .string(r.type), "key": .from(r.key), "region": .from(r.region),
        "document": r.document, "action": .string(r.action),
      ]
    }).description
  }

  static func decode(_ text: String) throws -> [DeclaredResource] {
    try (JSONValue.parse(Array(text.utf8)).arrayValue ?? []).map { r in
      DeclaredResource(
        address: r["address"]?.stringValue ?? "", sourceType: r["source_type"]?.stringValue ?? "", type: r["type"]?.stringValue ?? "",
        key: r["key"]?.stringValue, region: r["region"]?.stringValue, document: r["document"] ?? [:], action: r["action"]?.stringValue ?? "")
    }
  }
}

struct DefinitionRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "iac_definition"
  var id: String
  var name: String
  var format: Int
  var provider_id: String
  /// JSON arrays of strings.
  var regions: String
  var resource_types: String
  var ignore_rules: String
  /// CloudFormation: the stack whose physical ids match logical ids.
  var stack: String
  var version: Int
  var created_at: Double

  func proto(latest: VersionRecord?) throws -> Fixpoint_V1_IaCDefinition {
    var d = Fixpoint_V1_IaCDefinition()
    d.id = self.id
    d.name = self.name
    d.format = Fixpoint_V1_IaCDefinition.Format(rawValue: self.format) ?? .unspecified
    d.version = Int32(self.version)
    d.ignore = self.ignore_rules
    d.scope = .with {
      $0.providerID = self.provider_id
      $0.regions = (try? JSONDecoder().decode([String].self, from: Data(self.regions.utf8))) ?? []
      $0.resourceTypes = (try? JSONDecoder().decode([String].self, from: Data(self.resource_types.utf8))) ?? []
      $0.stack = self.stack
    }
    if let latest {
      d.sha256 = latest.sha256
      d.resourceCount = Int32(latest.resource_count)
      d.uploaded = latest.summary.uploaded
      d.unsupportedTypes = ((try? JSONValue.parse(Array(latest.unsupported.utf8)))?.objectValue ?? [:]).mapValues { Int32($0.intValue ?? 0) }
    }
    return d
  }
}

struct VersionRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
  static let databaseTableName = "iac_version"
  var definition_id: String
  var version: Int
  var sha256: String
  var content: Data
  /// The declared resources as parsed (`IaCDefinitions.encode`).
  var declared: String
  var unsupported: String
  var resource_count: Int
  var uploaded_at: Double
  var uploaded_by: String
  var uploaded_role: String

  var summary: Fixpoint_V1_IaCVersion {
    .with {
      $0.version = Int32(self.version)
      $0.sha256 = self.sha256
      $0.resourceCount = Int32(self.resource_count)
      $0.uploaded = .with {
        $0.subject = self.uploaded_by
        $0.role = self.uploaded_role
        $0.time = .init(date: Date(timeIntervalSince1970: self.uploaded_at))
      }
    }
  }
}

extension IaCFormat {
  var proto: Fixpoint_V1_IaCDefinition.Format {
    switch self {
    case .terraformState: .terraformState
    case .terraformPlan: .terraformPlan
    case .cloudFormation: .cloudformation
    case .kubernetes: .kubernetes
    }
  }
}

extension Fixpoint_V1_IaCDefinition.Format {
  var iac: IaCFormat? {
    switch self {
    case .terraformState: .terraformState
    case .terraformPlan: .terraformPlan
    case .cloudformation: .cloudFormation
    case .kubernetes: .kubernetes
    default: nil
    }
  }
}

extension Fixpoint_V1_Resource {
  var ref: Fixpoint_V1_ResourceRef {
    .init(resourceID: self.id, externalID: self.externalID, type: self.type, providerID: self.providerID, region: self.region)
  }
}

extension PathDifference {
  var proto: Fixpoint_V1_PathDiff {
    .with {
      $0.path = self.path.description
      $0.before = self.before.protoValue
      $0.after = self.after.protoValue
    }
  }
}
