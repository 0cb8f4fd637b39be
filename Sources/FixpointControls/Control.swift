public import FixpointDocuments
public import Foundation

/// How bad a failing control is (Security Hub's labels).
public enum Severity: String, Sendable, CaseIterable, Comparable, Codable {
  case informational, low, medium, high, critical

  public static func < (a: Severity, b: Severity) -> Bool {
    Self.allCases.firstIndex(of: a)! < Self.allCases.firstIndex(of: b)!
  }
}

/// What a control says about one resource.
public enum Verdict: Sendable, Hashable, CustomStringConvertible {
  case pass
  /// The paths whose values make it fail, and why, in words.
  case fail(paths: [DocumentPath], reason: String)
  /// The control does not apply to this resource (an AWS-managed key, an unattached volume).
  case notApplicable(reason: String)
  /// It could not be decided: a field it reads could not be read. Never a failure.
  case notEvaluated(reason: String)

  public var isPass: Bool { self == .pass }
  public var isFail: Bool { if case .fail = self { true } else { false } }

  public var description: String {
    switch self {
    case .pass: "pass"
    case .fail(let paths, let reason): "fail (\(paths.map(\.description).joined(separator: ", "))): \(reason)"
    case .notApplicable(let reason): "not applicable: \(reason)"
    case .notEvaluated(let reason): "not evaluated: \(reason)"
    }
  }
}

/// One change to a document: set `value` at `path` (null removes it). The dispatcher sends these to
/// inventory's ApplyChange as they are.
public struct PathOperation: Sendable, Hashable, CustomStringConvertible {
  public var path: DocumentPath
  public var value: JSONValue

  public init(_ path: DocumentPath, _ value: JSONValue) {
    self.path = path
    self.value = value
  }

  public var description: String { "\(self.path) = \(self.value)" }
}

/// A setting a control can be tuned with, and its default.
public struct ControlParameter: Sendable {
  public var name: String
  public var summary: String
  public var defaultValue: JSONValue

  public init(_ name: String, _ summary: String, default defaultValue: JSONValue) {
    self.name = name
    self.summary = summary
    self.defaultValue = defaultValue
  }
}

/// The values a control is evaluated with: the caller's, over the control's defaults; `now` for
/// controls about age (key rotation, unused credentials).
public struct Parameters: Sendable {
  public var values: [String: JSONValue]
  public var now: Date

  public init(_ values: [String: JSONValue] = [:], now: Date = Date()) {
    self.values = values
    self.now = now
  }

  public subscript(name: String) -> JSONValue? { self.values[name] }

  /// `self` over `defaults` (a value set here wins).
  func over(_ defaults: [ControlParameter]) -> Parameters {
    var out = self
    for p in defaults where out.values[p.name] == nil { out.values[p.name] = p.defaultValue }
    return out
  }

  public func int(_ name: String) -> Int { self.values[name]?.intValue ?? 0 }
  public func string(_ name: String) -> String { self.values[name]?.stringValue ?? "" }
  public func ints(_ name: String) -> [Int] { self.values[name]?.arrayValue?.compactMap(\.intValue) ?? [] }
}

/// Where in Terraform a control's fix is made: a resource type and its attribute.
public struct TerraformFix: Sendable, Hashable {
  public var resource: String
  public var attribute: String
  public init(_ resource: String, _ attribute: String) {
    self.resource = resource
    self.attribute = attribute
  }
}

/// A failing and a passing document for a control; the catalogue test runs both.
public struct ControlExamples: Sendable {
  public var type: String
  public var failing: JSONValue
  public var passing: JSONValue
  /// Parameters the fix needs (a log bucket, a KMS key) when they have no usable default.
  public var parameters: [String: JSONValue]
  public init(type: String, failing: JSONValue, passing: JSONValue, parameters: [String: JSONValue] = [:]) {
    self.type = type
    self.failing = failing
    self.passing = passing
    self.parameters = parameters
  }
}

/// A control: one security requirement on one kind of resource, defined once and used to assess
/// live resources (compliance), planned resources (the CI gate), to classify drift, to plan a fix
/// and to verify it (the dispatcher). Pure: no I/O, no clock but `Parameters.now`.
///
/// Conformers implement `check` (and `remedy` where a fix can be automated); callers use
/// `evaluate`, which first answers not evaluated when a field the control reads could not be read.
public protocol Control: Sendable {
  /// The Security Hub (FSBP) id, e.g. `S3.8`; `cis-3.0/<requirement>` for CIS-only requirements.
  var id: String { get }
  var title: String { get }
  var severity: Severity { get }
  /// The resource types it applies to (`ResourceTypeName`).
  var resourceTypes: [String] { get }
  /// The document paths it reads.
  var reads: [DocumentPath] { get }
  var parameters: [ControlParameter] { get }
  /// How to fix it, in words.
  var remediation: String { get }
  /// The Terraform attribute that fixes it, if one does.
  var terraform: TerraformFix? { get }
  /// False for a control that cannot be decided from configuration: listed and mapped, never
  /// counted as passed.
  var automated: Bool { get }
  var examples: ControlExamples { get }

  /// The verdict on a readable document of one of `resourceTypes`, with every parameter set.
  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict
  /// The operations that make a failing document pass; [] when it passes; nil when it can only be
  /// fixed by hand.
  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]?
}

extension Control {
  public var parameters: [ControlParameter] { [] }
  public var terraform: TerraformFix? { nil }
  public var automated: Bool { true }
  public func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? { nil }

  /// The verdict on `document`: not evaluated when a field it reads is marked unreadable, else
  /// `check` with the caller's parameters over the defaults.
  public func evaluate(_ document: JSONValue, _ parameters: Parameters = Parameters()) -> Verdict {
    guard self.automated else { return .notEvaluated(reason: "\(self.id) is checked by hand") }
    if let (field, reason) = Unreadable.first(document, among: self.reads) {
      return .notEvaluated(reason: "\(field) could not be read: \(reason)")
    }
    return self.check(document, parameters.over(self.parameters))
  }

  /// The fix for `document`: [] when it already passes (or is not evaluated or not applicable),
  /// nil when it fails and can only be fixed by hand.
  public func plan(_ document: JSONValue, _ parameters: Parameters = Parameters()) -> [PathOperation]? {
    guard self.evaluate(document, parameters).isFail else { return [] }
    return self.remedy(document, parameters.over(self.parameters))
  }

  /// `given` over this control's defaults: what `check` and `remedy` are called with.
  public func resolving(_ given: Parameters) -> Parameters { given.over(self.parameters) }

  /// The framework requirements this control evidences (from the framework data).
  public var requirements: [RequirementRef] { FrameworkCatalogue.requirements(of: self.id) }
}

/// Shorthands for writing controls.
extension Control {
  /// A path from its text; controls write only well-formed literal paths.
  public static func path(_ text: String) -> DocumentPath {
    guard let p = try? DocumentPath(text) else { preconditionFailure("bad literal path \(text)") }
    return p
  }

  static func fail(_ paths: [String], _ reason: String) -> Verdict {
    .fail(paths: paths.map { Self.path($0) }, reason: reason)
  }
}
