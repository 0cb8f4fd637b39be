import FixpointControls
import FixpointCore
import FixpointGate
import FixpointDocuments
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore

/// `fixpoint.v1.ComplianceService`: the control catalogue and frameworks (FixpointControls),
/// assessments, results, waivers and exports, and EvaluatePlan (the offline gate's evaluation, served).
struct ComplianceRPCs: Fixpoint_V1_ComplianceService.SimpleServiceProtocol {
  let store: Store
  let assessor: Assessor

  func listFrameworks(request: Fixpoint_V1_ListFrameworksRequest, context: ServerContext) async throws -> Fixpoint_V1_ListFrameworksResponse {
    .with { $0.frameworks = FrameworkCatalogue.all.map(\.proto) }
  }

  func listControls(request: Fixpoint_V1_ListControlsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListControlsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var controls = ControlCatalogue.all
    if !request.frameworkID.isEmpty {
      guard let framework = FrameworkCatalogue.byID[request.frameworkID] else {
        throw ServiceError.invalidArgument(field: "framework_id", reason: "unknown framework '\(request.frameworkID)'; see ListFrameworks")
      }
      let mapped = Set(framework.requirements.flatMap(\.controls))
      controls = controls.filter { mapped.contains($0.id) }
    }
    if !request.resourceType.isEmpty {
      guard ResourceSchema.byType[request.resourceType] != nil else {
        throw ServiceError.invalidArgument(field: "resource_type", reason: "unknown resource type '\(request.resourceType)'")
      }
      controls = controls.filter { $0.resourceTypes.contains(request.resourceType) }
    }
    let slice = Array(controls.dropFirst(page.offset).prefix(page.size))
    return .with {
      $0.controls = slice.map(\.proto)
      $0.nextPageToken = page.offset + slice.count < controls.count ? page.nextToken(returned: slice.count) : ""
    }
  }

  func getControl(request: Fixpoint_V1_GetControlRequest, context: ServerContext) async throws -> Fixpoint_V1_Control {
    guard let control = ControlCatalogue.byID[request.controlID] else {
      if request.controlID.isEmpty { throw ServiceError.invalidArgument(field: "control_id", reason: "required") }
      throw ServiceError.notFound(kind: "control", id: request.controlID)
    }
    return control.proto
  }

  func runAssessment(request: Fixpoint_V1_RunAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_Assessment {
    try await self.assessor.enqueue(request, by: try currentPrincipal()).proto(requirements: false)
  }

  func getAssessment(request: Fixpoint_V1_GetAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_Assessment {
    try Validate.id(request.assessmentID, field: "assessment_id", prefix: "asm")
    guard let record = try await self.store.read({ db in try AssessmentRecord.fetchOne(db, key: request.assessmentID) }) else {
      throw ServiceError.notFound(kind: "assessment", id: request.assessmentID)
    }
    return record.proto(requirements: true)
  }

  func listAssessments(request: Fixpoint_V1_ListAssessmentsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListAssessmentsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    if !request.frameworkID.isEmpty, FrameworkCatalogue.byID[request.frameworkID] == nil {
      throw ServiceError.invalidArgument(field: "framework_id", reason: "unknown framework '\(request.frameworkID)'")
    }
    let rows = try await self.store.read { db in
      try AssessmentRecord.fetchAll(
        db, sql: "SELECT * FROM assessment WHERE (? = '' OR framework_id = ?) ORDER BY requested_at DESC, rowid DESC LIMIT ? OFFSET ?",
        arguments: [request.frameworkID, request.frameworkID, page.size, page.offset])
    }
    return .with {
      ($0.assessments, $0.nextPageToken) = page.fit(rows.map { $0.proto(requirements: false) })
    }
  }

  func listResults(request: Fixpoint_V1_ListResultsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListResultsResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    try Validate.id(request.assessmentID, field: "assessment_id", prefix: "asm")
    if !request.controlID.isEmpty, ControlCatalogue.byID[request.controlID] == nil {
      throw ServiceError.invalidArgument(field: "control_id", reason: "unknown control '\(request.controlID)'")
    }
    if !request.resourceID.isEmpty { try Validate.id(request.resourceID, field: "resource_id", prefix: "res") }
    guard request.status.rawValue >= 0, request.status.rawValue <= ResultStatus.allCases.count else {
      throw ServiceError.invalidArgument(field: "status", reason: "unknown status")
    }
    guard request.change.rawValue >= 0, request.change.rawValue <= 2 else { throw ServiceError.invalidArgument(field: "change", reason: "unknown change") }
    let rows = try await self.store.read { db -> [ResultRecord]? in
      guard try AssessmentRecord.exists(db, key: request.assessmentID) else { return nil }
      return try ResultRecord.fetchAll(
        db,
        sql: """
          SELECT * FROM result WHERE assessment_id = ? AND (? = '' OR control_id = ?) AND (? = '' OR resource_id = ?)
            AND (? = 0 OR status = ?) AND (? = 0 OR change = ?)
          ORDER BY control_id, resource_name, resource_id LIMIT ? OFFSET ?
          """,
        arguments: [request.assessmentID, request.controlID, request.controlID, request.resourceID, request.resourceID,
                    request.status.rawValue, request.status.rawValue, request.change.rawValue, request.change.rawValue, page.size, page.offset])
    }
    guard let rows else { throw ServiceError.notFound(kind: "assessment", id: request.assessmentID) }
    return .with {
      ($0.results, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  /// The CI gate's evaluation, the code `fixpoint gate` runs offline; stores nothing.
  func evaluatePlan(request: Fixpoint_V1_EvaluatePlanRequest, context: ServerContext) async throws -> Fixpoint_V1_EvaluatePlanResponse {
    _ = try currentPrincipal()
    guard !request.planJson.isEmpty else { throw ServiceError.invalidArgument(field: "plan_json", reason: "empty; send `terraform show -json` output") }
    var options = Gate.Options()
    options.framework = request.frameworkID.isEmpty ? "fsbp" : request.frameworkID
    options.checks = request.controlIds
    options.skipChecks = request.skipControlIds
    options.includeUnchanged = request.includeUnchanged
    options.parameters = self.assessor.overrides
    if request.failOn == .unspecified {
      options.failOn = .low
    } else if let severity = Severity(request.failOn) {
      options.failOn = severity
    } else {
      throw ServiceError.invalidArgument(field: "fail_on", reason: "unknown severity \(request.failOn.rawValue)")
    }
    let report: Gate.Report
    do { report = try Gate.evaluate(request.planJson, file: "plan_json", options: options) } catch {
      let field = switch error.subject {
      case .framework: "framework_id"
      case .checks: "control_ids"
      case .skipChecks: "skip_control_ids"
      case .definition, .waivers: "plan_json"
      }
      throw ServiceError.invalidArgument(field: field, reason: String(error.description.prefix(500)))
    }
    return .with { response in
      response.results = report.results.map { r in
        .with {
          $0.address = r.address
          $0.controlID = r.controlID
          $0.status = Self.status(r.status)
          $0.reason = r.reason
          $0.severity = r.severity.proto
          $0.resourceType = r.sourceType
          $0.action = r.action
          $0.paths = r.paths
          $0.fix = r.fix
        }
      }
      response.passed = Int32(report.count(.pass))
      response.failed = Int32(report.count(.fail))
      response.notEvaluated = Int32(report.count(.notEvaluated))
      response.blocking = Int32(report.blocking.count)
      response.resourcesAssessed = Int32(report.resourcesAssessed)
      response.format = report.format.rawValue
      response.unsupportedTypes = report.unsupported.mapValues { Int32($0) }
      response.summary = report.summary
    }
  }

  static func status(_ status: Gate.Result.Status) -> Fixpoint_V1_Result.Status {
    switch status {
    case .pass: .pass
    case .fail: .fail
    case .notEvaluated: .notEvaluated
    case .notApplicable: .notApplicable
    case .waived: .waived
    }
  }

  func createWaiver(request: Fixpoint_V1_CreateWaiverRequest, context: ServerContext) async throws -> Fixpoint_V1_Waiver {
    let actor = try currentPrincipal()
    let record = try Waivers.validated(request, by: actor, now: Date())
    return try await RequestLog.once(self.store, method: "CreateWaiver", request: request, requestID: request.requestID) { db in
      try record.insert(db)
      return record.proto
    }
  }

  func listWaivers(request: Fixpoint_V1_ListWaiversRequest, context: ServerContext) async throws -> Fixpoint_V1_ListWaiversResponse {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    let now = Date().timeIntervalSince1970
    let rows = try await self.store.read { db in
      try WaiverRecord.fetchAll(
        db,
        sql: "SELECT * FROM waiver WHERE ? OR (deleted_at IS NULL AND expires_at > ?) ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        arguments: [request.includeExpired, now, page.size, page.offset])
    }
    return .with {
      ($0.waivers, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func deleteWaiver(request: Fixpoint_V1_DeleteWaiverRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteWaiverResponse {
    let actor = try currentPrincipal()
    try Validate.id(request.waiverID, field: "waiver_id", prefix: "wvr")
    return try await RequestLog.once(self.store, method: "DeleteWaiver", request: request, requestID: request.requestID) { db in
      guard var waiver = try WaiverRecord.fetchOne(db, key: request.waiverID) else { throw ServiceError.notFound(kind: "waiver", id: request.waiverID) }
      guard waiver.deleted_at == nil else { throw ServiceError.failedPrecondition("waiver \(waiver.id) was already deleted") }
      (waiver.deleted_by, waiver.deleted_role, waiver.deleted_at) = (actor.subject, actor.role.rawValue, Date().timeIntervalSince1970)
      try waiver.update(db)
      return .with { $0.waiverID = waiver.id }
    }
  }

  func exportAssessment(request: Fixpoint_V1_ExportAssessmentRequest, context: ServerContext) async throws -> Fixpoint_V1_ExportAssessmentResponse {
    try Validate.id(request.assessmentID, field: "assessment_id", prefix: "asm")
    guard [.json, .csv, .sarif, .junit, .asff, .html].contains(request.format) else {
      throw ServiceError.invalidArgument(field: "format", reason: "one of json, csv, sarif, junit, asff, html")
    }
    let loaded = try await self.store.read { db -> (AssessmentRecord, [ResultRecord])? in
      guard let a = try AssessmentRecord.fetchOne(db, key: request.assessmentID) else { return nil }
      return (a, try ResultRecord.fetchAll(db, sql: "SELECT * FROM result WHERE assessment_id = ? ORDER BY control_id, resource_name, resource_id", arguments: [a.id]))
    }
    guard let (assessment, results) = loaded else { throw ServiceError.notFound(kind: "assessment", id: request.assessmentID) }
    guard assessment.state == AssessmentState.succeeded.rawValue else {
      throw ServiceError.failedPrecondition("assessment \(assessment.id) has not finished (\(assessment.message)); export it when it has")
    }
    var accounts: [String: String] = [:]
    if request.format == .asff {
      do {
        let providers = try await self.assessor.inventory.listProviders(.with { $0.pageSize = 1000; $0.includeDisconnected = true }).providers
        accounts = Dictionary(providers.map { ($0.id, $0.accountID) }, uniquingKeysWith: { a, _ in a })
      } catch let error as RPCError {
        throw ServiceError.failedPrecondition("ASFF needs each finding's account: inventory could not list providers (\(error.code)): \(error.message)")
      }
    }
    let (type, content) = try Exports.render(
      request.format, Exports.Input(assessment: assessment.proto(requirements: true), results: results, accounts: accounts, now: Date()))
    return .with { $0.contentType = type; $0.content = content }
  }
}

/// Waiver rules: a control of the catalogue, one resource or a tag selector, a reason, and an
/// expiry in the future and at most 365 days ahead.
enum Waivers {
  static let maxDays = 365

  static func validated(_ r: Fixpoint_V1_CreateWaiverRequest, by actor: Principal, now: Date) throws -> WaiverRecord {
    guard ControlCatalogue.byID[r.controlID] != nil else {
      throw ServiceError.invalidArgument(field: "control_id", reason: r.controlID.isEmpty ? "required" : "unknown control '\(r.controlID)'")
    }
    switch (r.resourceID.isEmpty, r.tagSelector.isEmpty) {
    case (true, true): throw ServiceError.invalidArgument(field: "resource_id", reason: "a resource_id or a tag_selector is required")
    case (false, false): throw ServiceError.invalidArgument(field: "tag_selector", reason: "give a resource_id or a tag_selector, not both")
    case (false, true): try Validate.id(r.resourceID, field: "resource_id", prefix: "res")
    case (true, false):
      guard r.tagSelector.count <= 10 else { throw ServiceError.invalidArgument(field: "tag_selector", reason: "at most 10 tags") }
      for (key, value) in r.tagSelector {
        guard !key.isEmpty, key.count <= 128, value.count <= 256 else {
          throw ServiceError.invalidArgument(field: "tag_selector[\(key)]", reason: "keys are 1–128 characters, values at most 256")
        }
        try Validate.text(key, field: "tag_selector[\(key)]", max: 128)
        try Validate.text(value, field: "tag_selector[\(key)]", max: 256, required: false)
      }
    }
    try Validate.text(r.reason, field: "reason", max: 2000)
    guard r.hasExpiresAt else { throw ServiceError.invalidArgument(field: "expires_at", reason: "required: every waiver expires (at most \(Self.maxDays) days)") }
    let expires = r.expiresAt.date
    guard expires > now else { throw ServiceError.invalidArgument(field: "expires_at", reason: "is in the past") }
    guard expires <= now.addingTimeInterval(Double(Self.maxDays) * 86_400) else {
      throw ServiceError.invalidArgument(field: "expires_at", reason: "is more than \(Self.maxDays) days ahead")
    }
    let tags = String(decoding: try JSONEncoder().encode(r.tagSelector), as: UTF8.self)
    return WaiverRecord(
      id: RandomID.make(prefix: "wvr"), control_id: r.controlID, resource_id: r.resourceID, tag_selector: tags, reason: r.reason,
      expires_at: expires.timeIntervalSince1970, created_by: actor.subject, created_role: actor.role.rawValue,
      created_at: now.timeIntervalSince1970, deleted_by: nil, deleted_role: nil, deleted_at: nil)
  }
}

// MARK: - Conversions at the RPC edge

extension Framework {
  var proto: Fixpoint_V1_Framework {
    .with {
      $0.id = self.id
      $0.name = self.name
      $0.version = self.version
      $0.description_p = "\(self.name) \(self.version)"
      $0.source = self.source
      $0.complete = self.complete
      $0.requirementCount = Int32(self.requirements.count)
      let mapped = Set(self.requirements.flatMap(\.controls))
      $0.controlCount = Int32(ControlCatalogue.all.filter { mapped.contains($0.id) }.count)
    }
  }
}

extension Control {
  var proto: Fixpoint_V1_Control {
    .with { c in
      c.id = self.id
      c.title = self.title
      c.description_p = self.title
      c.severity = self.severity.proto
      c.resourceTypes = self.resourceTypes
      c.remediationGuidance = self.remediation
      c.reads = self.reads.map(\.description)
      c.automated = self.automated
      if let fix = self.terraform {
        c.terraformResource = fix.resource
        c.terraformAttribute = fix.attribute
      }
      c.parameters = self.parameters.map { p in
        .with { $0.name = p.name; $0.description_p = p.summary; $0.defaultValue = p.defaultValue.protoValue }
      }
      for ref in self.requirements { c.mappings[ref.framework, default: .init()].ids.append(ref.requirement) }
    }
  }
}

extension AssessmentRecord {
  func proto(requirements: Bool) -> Fixpoint_V1_Assessment {
    let summary = (try? JSONDecoder().decode(Scoring.Summary.self, from: Data(self.summary.utf8))) ?? Scoring.Summary()
    return .with { a in
      a.id = self.id
      a.frameworkID = self.framework_id
      a.providerID = self.provider_id
      a.controlIds = self.controlIDs
      a.requested = .with { $0.subject = self.requested_by; $0.role = self.requested_role; $0.time = .init(timeIntervalSince1970: self.requested_at) }
      a.progress = .with { p in
        p.jobID = self.id
        p.state = Fixpoint_V1_JobProgress.State(rawValue: self.state) ?? .unspecified
        if let t = self.started_at { p.startedAt = .init(timeIntervalSince1970: t) }
        if let t = self.finished_at { p.finishedAt = .init(timeIntervalSince1970: t) }
        p.counters = ["resources": Int64(self.resources_seen)]
        p.message = self.message
        p.error = self.error
      }
      a.passed = Int32(summary.counts["pass"] ?? 0)
      a.failed = Int32(summary.counts["fail"] ?? 0)
      a.notEvaluated = Int32(summary.counts["notEvaluated"] ?? 0)
      a.waived = Int32(summary.counts["waived"] ?? 0)
      a.notApplicable = Int32(summary.counts["notApplicable"] ?? 0)
      a.failedBySeverity = summary.failedBySeverity.mapValues { Int32($0) }
      a.previousAssessmentID = self.previous_id
      a.newFailures = Int32(summary.newFailures)
      a.newlyFixed = Int32(summary.newlyFixed)
      a.scores = summary.scores.map { s in
        .with {
          $0.frameworkID = s.framework
          $0.passedControls = Int32(s.passed)
          $0.failedControls = Int32(s.failed)
          $0.controlsWithData = Int32(s.withData)
          $0.score = s.score
        }
      }
      if requirements {
        a.requirements = summary.requirements.map { r in
          .with {
            $0.requirementID = r.id
            $0.title = r.title
            $0.status = Fixpoint_V1_RequirementStatus.Status(rawValue: r.state.rawValue) ?? .unspecified
            $0.controlIds = r.controls
            $0.failedResults = Int32(r.failedResults)
          }
        }
      }
    }
  }
}

extension ResultRecord {
  var proto: Fixpoint_V1_Result {
    .with {
      $0.id = self.id
      $0.assessmentID = self.assessment_id
      $0.controlID = self.control_id
      $0.resource = self.resourceRef
      $0.resourceName = self.resource_name
      $0.status = Fixpoint_V1_Result.Status(rawValue: self.status) ?? .unspecified
      $0.reason = self.reason
      $0.severity = Severity(rawValue: self.severity)?.proto ?? .unspecified
      $0.evaluatedAt = .init(timeIntervalSince1970: self.evaluated_at)
      $0.paths = (try? JSONDecoder().decode([String].self, from: Data(self.paths.utf8))) ?? []
      $0.waiverID = self.waiver_id
      $0.change = Fixpoint_V1_Result.Change(rawValue: self.change) ?? .unspecified
    }
  }
}

extension WaiverRecord {
  var proto: Fixpoint_V1_Waiver {
    .with { w in
      w.id = self.id
      w.controlID = self.control_id
      w.resourceID = self.resource_id
      w.tagSelector = self.tags
      w.reason = self.reason
      w.expiresAt = .init(timeIntervalSince1970: self.expires_at)
      w.created = .with { $0.subject = self.created_by; $0.role = self.created_role; $0.time = .init(timeIntervalSince1970: self.created_at) }
      if let at = self.deleted_at {
        w.deleted = .with { $0.subject = self.deleted_by ?? ""; $0.role = self.deleted_role ?? ""; $0.time = .init(timeIntervalSince1970: at) }
      }
    }
  }
}
