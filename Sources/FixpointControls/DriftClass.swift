public import FixpointDocuments
public import Foundation

/// What a drift is, decided from the catalogue: the third use of a control (after assessing and
/// fixing). A difference between a resource's expected document (its baseline, or what IaC
/// declares) and its live one is
///   - **security** when some control passed on the expected document and fails on the live one,
///   - **compliance** when none did but a requirement of an enabled framework went from evidenced
///     to broken (a control that only a framework, not FSBP, carries: `cis-…` ids),
///   - **configuration** otherwise.
/// A field either side could not read is left out of the comparison.
/// The severity is the worst broken control's; a configuration drift takes the type's rule
/// (`configurationSeverity`). Pure: no I/O.
public struct DriftClass: Sendable, Equatable {
  public enum Kind: String, Sendable {
    case configuration, security, compliance
  }

  public var kind: Kind
  public var severity: Severity
  /// The controls that went from pass to fail, worst first (ties by id): the first is the one the
  /// dispatcher matches a handler by.
  public var brokenControls: [String]
  /// The attribute differences, in path order, under the type's comparison rules.
  public var differences: [PathDifference]

  /// The class of the change from `expected` to `live` on a resource of `type`; nil when the two
  /// do not differ under the type's rules (cloud-assigned ids, volatile values, set order).
  public static func of(
    type: String, expected: JSONValue, live: JSONValue,
    enabledFrameworks: Set<String> = Set(FrameworkCatalogue.all.map(\.id)),
    overrides: ParameterOverrides = ParameterOverrides(), now: Date = Date()
  ) -> DriftClass? {
    // The common case, a resource unchanged since its baseline, costs one comparison.
    if expected == live { return nil }
    // A field unreadable on either side (a denied or failed read) is not known, so not compared:
    // a transient AccessDenied is not a drift.
    let unknown = Set((expected[Unreadable.key]?.objectValue ?? [:]).keys).union((live[Unreadable.key]?.objectValue ?? [:]).keys)
    let comparable = { (document: JSONValue) -> JSONValue in
      guard case .object(var fields) = document, fields[Unreadable.key] != nil || !unknown.isEmpty else { return document }
      for field in unknown.union([Unreadable.key]) { fields[field] = nil }
      return .object(fields)
    }
    let differences = diff(comparable(expected), comparable(live), type: type)
    guard !differences.isEmpty else { return nil }
    // A control is a function of the fields it reads (and of `now`, the same on both sides), so
    // only a control reading a changed field can change its verdict: the others are not run.
    let changed = Set(differences.map(\.path.unit))
    var broken: [any Control] = []
    for control in ControlCatalogue.controls(for: type) where control.reads.contains(where: { changed.contains($0.unit) }) {
      let parameters = overrides.parameters(for: control, now: now)
      if control.evaluate(live, parameters).isFail, control.evaluate(expected, parameters).isPass {
        broken.append(control)
      }
    }
    broken.sort { ($0.severity, $1.id) > ($1.severity, $0.id) }
    let security = broken.filter { !Self.frameworkOnly($0.id) }
    let compliance = broken.filter { control in
      Self.frameworkOnly(control.id) && control.requirements.contains { enabledFrameworks.contains($0.framework) }
    }
    let counted = security.isEmpty ? compliance : security
    if let worst = counted.first {
      return DriftClass(
        kind: security.isEmpty ? .compliance : .security, severity: worst.severity,
        brokenControls: counted.map(\.id), differences: differences)
    }
    return DriftClass(
      kind: .configuration, severity: Self.configurationSeverity(type: type, differences), brokenControls: [],
      differences: differences)
  }

  /// Controls whose id names a framework's own requirement rather than a Security Hub control.
  static func frameworkOnly(_ id: String) -> Bool { id.hasPrefix("cis-") }

  /// A configuration drift's severity, from the fields it touches: tags alone are low; a
  /// writable field (one a fix or a revert could set: policies, rules, encryption settings) is
  /// medium; anything else (a read-only attribute that changed) is low.
  public static func configurationSeverity(type: String, _ differences: [PathDifference]) -> Severity {
    let schema = ResourceSchema.of(type)
    let fields = Set(differences.compactMap(\.path.segments.first))
    return fields.contains { $0 != "tags" && schema.writable.contains($0) } ? .medium : .low
  }
}
