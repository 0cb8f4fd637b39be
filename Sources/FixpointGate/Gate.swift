public import FixpointControls
public import FixpointDocuments
public import FixpointIaC
public import Foundation

/// The CI gate: a Terraform plan (or state, or a CloudFormation template) assessed offline with the
/// control catalogue, so a pull request that would open SSH to the world fails before it is
/// applied, with the verdict the compliance service gives the same resource live.
///
/// Each declared resource's after-apply document is what inventory would read once it exists: the
/// fields the definition states, what it implies (`DeclaredResource.implied`), and AWS's own
/// defaults for what it leaves out (`AfterApply`). A control that reads a field a definition
/// cannot state (an access key's age, a user's MFA devices), or a value not known until apply, is
/// not evaluated, never failed. A delete is never a failure.
public enum Gate {
  public struct Options: Sendable {
    public var framework = "fsbp"
    /// Only these control ids (empty: every automated control of the framework).
    public var checks: [String] = []
    public var skipChecks: [String] = []
    /// A failure at or above this severity fails the gate.
    public var failOn = Severity.low
    /// Also resources the plan leaves unchanged (`no-op`).
    public var includeUnchanged = false
    public var waivers: [Waiver] = []
    public var parameters = ParameterOverrides()
    public var now = Date()
    /// The Terraform source tree, to place results at their `resource` blocks.
    public var sourceDir: String?
    public init() {}
  }

  /// Input the gate refuses: the exit-2 cases, in one line.
  public struct InputError: Error, CustomStringConvertible, Equatable {
    /// What was wrong: the framework, a selected or skipped control, the definition, the waivers.
    public enum Subject: Sendable, Equatable { case framework, checks, skipChecks, definition, waivers }
    public var subject: Subject
    public var description: String
    public init(_ description: String, subject: Subject = .definition) {
      self.description = description
      self.subject = subject
    }
    static func waivers(_ description: String) -> InputError { InputError(description, subject: .waivers) }
  }

  /// The largest file the gate reads (the converters' limit).
  public static let maxBytes = IaC.maxBytes

  /// Reads and assesses a file, refusing one over the size limit before reading it.
  public static func evaluate(file path: String, options: Options) throws(InputError) -> Report {
    let size: Int
    do {
      size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    } catch {
      throw InputError("\(path): cannot read: \((error as NSError).localizedFailureReason ?? "no such file or not readable")")
    }
    guard size <= Self.maxBytes else { throw InputError("\(path): the file is \(size) bytes; the limit is \(Self.maxBytes)") }
    guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read") }
    do { return try Self.evaluate(data, file: path, options: options) } catch {
      throw error.subject == .definition ? InputError("\(path): \(error.description)") : error
    }
  }

  /// Assesses a definition already in memory; `file` names it in the report.
  public static func evaluate(_ data: Data, file: String, options: Options) throws(InputError) -> Report {
    let controls = try Self.controls(options)
    let read: (format: IaCFormat, definition: ParsedDefinition)
    do { read = try IaC.declared(data, format: nil) } catch let error as IaCError {
      throw InputError(error.description)
    } catch {
      throw InputError("\(error)")
    }
    guard read.format != .kubernetes else { throw InputError("Kubernetes manifests have no AWS controls; give a Terraform plan or state, or a CloudFormation template") }
    var byType: [String: [any Control]] = [:]
    for control in controls { for type in control.resourceTypes { byType[type, default: []].append(control) } }
    var results: [Result] = []
    var assessed = 0
    var skipped = 0
    var waiversUsed = Set<Int>()
    for resource in read.definition.resources {
      guard Self.assesses(resource, format: read.format, includeUnchanged: options.includeUnchanged) else { skipped += 1; continue }
      let applicable = byType[resource.type] ?? []
      guard !applicable.isEmpty else { continue }
      assessed += 1
      let document = AfterApply.document(resource)
      for control in applicable {
        let parameters = options.parameters.parameters(for: control, now: options.now)
        let verdict = Self.verdict(control, document: document, type: resource.type, parameters: parameters)
        var result = Result(resource: resource, control: control, verdict: verdict, document: document, parameters: parameters)
        if result.status == .fail || result.status == .notEvaluated,
          let (i, waiver) = options.waivers.enumerated().first(where: { $0.element.covers(control.id, address: resource.address, now: options.now) })
        {
          (result.status, result.waiver) = (.waived, waiver)
          waiversUsed.insert(i)
        }
        results.append(result)
      }
    }
    var report = Report(
      file: file, format: read.format, framework: options.framework, failOn: options.failOn, results: results, resourcesAssessed: assessed,
      resourcesSkipped: skipped, unsupported: read.definition.unsupported,
      expiredWaivers: options.waivers.filter { $0.expired(at: options.now) },
      unusedWaivers: options.waivers.enumerated().filter { !waiversUsed.contains($0.offset) && !$0.element.expired(at: options.now) }.map(\.element))
    report.locate(sourceDir: options.sourceDir, definition: data)
    return report
  }

  /// The framework's automated controls, narrowed by `--check` and `--skip-check`.
  static func controls(_ options: Options) throws(InputError) -> [any Control] {
    guard let framework = FrameworkCatalogue.byID[options.framework] else {
      throw InputError("unknown framework '\(options.framework)'; one of \(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))", subject: .framework)
    }
    for id in options.skipChecks where ControlCatalogue.byID[id] == nil { throw InputError("--skip-check: unknown control '\(id)'", subject: .skipChecks) }
    do {
      let skip = Set(options.skipChecks)
      return try ControlCatalogue.selection(of: framework, only: options.checks).filter { !skip.contains($0.id) }
    } catch {
      throw InputError("--check: \(error.reason)", subject: .checks)
    }
  }

  /// Which resources a run assesses: in a plan, those created, updated or replaced (and unchanged
  /// ones when asked); every resource of a state or template.
  static func assesses(_ resource: DeclaredResource, format: IaCFormat, includeUnchanged: Bool) -> Bool {
    guard format == .terraformPlan else { return true }
    switch resource.action {
    case "create", "update", "replace": return true
    case "no-op": return includeUnchanged
    default: return false
    }
  }

  /// A control's verdict on an after-apply document. Not evaluated when it reads a field no
  /// definition states; when a value it reads is unknown until apply, a failure stands only if it
  /// is decided by known values (a known SSH rule open to the world fails whatever the others are).
  public static func verdict(_ control: any Control, document: JSONValue, type: String, parameters: Parameters) -> Verdict {
    let stated = AfterApply.stated(type)
    let unstated = control.reads.map(\.unit).filter { !stated.contains($0) }
    if !unstated.isEmpty {
      return .notEvaluated(reason: "a definition does not state \(Self.list(unstated)); \(control.id) is decided on the live resource")
    }
    let verdict = control.evaluate(document, parameters)
    let unknown = control.reads.filter { Declared.holdsUnknown(document.value(at: $0)) }
    guard !unknown.isEmpty else { return verdict }
    if case .fail(let paths, _) = verdict, !paths.isEmpty, !paths.contains(where: { Self.unknown(document, along: $0) }) {
      return verdict
    }
    return .notEvaluated(reason: "\(Self.list(unknown.map(\.description))) known only after apply")
  }

  /// Whether the value at `path`, or at any path above it, is not known until apply.
  static func unknown(_ document: JSONValue, along path: DocumentPath) -> Bool {
    (1...max(1, path.segments.count)).contains { n in
      let value = document.value(at: DocumentPath(segments: Array(path.segments.prefix(n))))
      return n == path.segments.count ? Declared.holdsUnknown(value) : value == Declared.unknown
    }
  }

  static func list(_ items: [String]) -> String { items.joined(separator: ", ") }
}

/// What AWS holds after apply for each field a definition can state, per inventory type, when the
/// definition leaves it out. A field listed here is decidable from a definition; a field not
/// listed (an IAM user's keys and MFA devices) is only known live.
public enum AfterApply {
  /// Field → the value AWS gives it when the definition is silent; null: absent (no public access
  /// block, no policy, no logging); `Declared.unknown`: only the cloud decides (an instance's
  /// metadata options come from its AMI).
  static let defaults: [String: [String: JSONValue]] = [
    ResourceTypeName.s3Bucket: [
      "name": .null, "tags": .object([:]), "public_access_block": .null, "policy": .null, "acl_grants": .array([]), "logging": .null,
      "versioning": "Disabled", "mfa_delete": "Disabled",
      // Since January 2023 every new bucket is encrypted with SSE-S3 when nothing else is set.
      "encryption": ["sse_algorithm": "AES256", "bucket_key_enabled": false],
    ],
    ResourceTypeName.securityGroup: [
      "id": Declared.unknown, "name": Declared.unknown, "description": "", "vpc_id": Declared.unknown, "tags": .object([:]),
      // Terraform removes the allow-all egress rule AWS adds to a new group unless one is declared.
      "ingress": .object([:]), "egress": .object([:]),
    ],
    ResourceTypeName.ec2Instance: [
      "id": Declared.unknown, "instance_type": Declared.unknown, "metadata_options": Declared.unknown, "public_ip": Declared.unknown,
      "security_groups": Declared.unknown, "tags": .object([:]),
    ],
    ResourceTypeName.rdsInstance: [
      "identifier": Declared.unknown, "engine": Declared.unknown, "publicly_accessible": false, "storage_encrypted": false,
      "deletion_protection": false, "auto_minor_version_upgrade": true, "backup_retention_period": 1, "multi_az": false, "tags": .object([:]),
    ],
    ResourceTypeName.kmsKey: [
      "key_id": Declared.unknown, "rotation_enabled": false, "description": "", "key_manager": Declared.unknown, "key_spec": Declared.unknown,
      "key_state": Declared.unknown,
    ],
    ResourceTypeName.cloudTrailTrail: [
      "name": Declared.unknown, "is_logging": true, "log_file_validation_enabled": false, "is_multi_region_trail": false, "kms_key_id": .null,
      "s3_bucket_name": Declared.unknown, "include_global_service_events": true,
    ],
    ResourceTypeName.guardDutyDetector: ["detector_id": Declared.unknown, "enabled": true, "finding_publishing_frequency": "SIX_HOURS"],
    ResourceTypeName.ebsEncryptionDefault: ["enabled": true],
    ResourceTypeName.iamUser: ["user_name": Declared.unknown, "tags": .object([:])],
  ]

  /// The fields a definition can decide for `type`.
  public static func stated(_ type: String) -> Set<String> { Set(Self.defaults[type]?.keys ?? [:].keys) }

  /// The document the resource will have: stated, then implied, then defaulted fields.
  public static func document(_ resource: DeclaredResource) -> JSONValue {
    var fields = resource.document.objectValue ?? [:]
    for (field, value) in resource.implied where fields[field] == nil { fields[field] = value }
    if resource.type == ResourceTypeName.s3Bucket, fields["name"] == nil, let key = resource.key, !key.isEmpty { fields["name"] = .string(key) }
    for (field, value) in Self.defaults[resource.type] ?? [:] where fields[field] == nil { fields[field] = value }
    return .object(fields.filter { $0.value != .null })
  }
}
