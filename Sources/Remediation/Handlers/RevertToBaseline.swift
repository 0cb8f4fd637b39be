import FixpointControls
import FixpointCore
import FixpointDocuments

/// Puts a resource back to its latest baseline, for a configuration drift (one no control names:
/// nothing else fixes it). Offered only when every field that differs is one inventory can write;
/// a difference in a read-only field can only be accepted (a new baseline). Tier 3: it undoes
/// someone's change, so it always needs an approval, and runs in a change window. The change set
/// writes each differing field whole with its baseline value, through inventory's change model
/// like any fix (dry run, snapshot, rollback); verification is each field reading back equal to
/// the baseline's under the type's comparison rules (no control decides it).
struct RevertToBaseline: RemediationHandler {
  let info = HandlerInfo(
    name: "RevertToBaseline", description: "Set the fields a configuration drift changed back to the resource's latest baseline",
    fixes: [], findingTypes: ["drift/configuration"],
    resourceTypes: ResourceSchema.all.filter { !$0.writable.isEmpty }.map(\.type),
    tier: .changeWindow, risk: .medium, permissions: ["the write permissions of each field reverted (see docs/resources.md)"], reversible: true,
    revertsToBaseline: true)

  func plan(_ resource: InventoryResource, control: (any Control)?, config: HandlerConfig) throws(ServiceError) -> HandlerPlan {
    throw .failedPrecondition("RevertToBaseline plans from the resource's baseline")
  }

  /// The change that makes `resource` equal `baseline` again.
  func plan(_ resource: InventoryResource, baseline: JSONValue, baselineID: String) throws(ServiceError) -> HandlerPlan {
    try self.requireType(resource)
    let live = resource.configuration
    let schema = ResourceSchema.of(resource.type)
    let fields = Array(Set(diff(baseline, live, type: resource.type).map(\.path.unit))).sorted()
    guard !fields.isEmpty else { throw .failedPrecondition("already compliant: \(resource.type) \(resource.name) matches baseline \(baselineID)") }
    let unreadable = Set((live[Unreadable.key]?.objectValue ?? [:]).keys)
    let readOnly = fields.filter { !schema.writable.contains($0) || unreadable.contains($0) }
    guard readOnly.isEmpty else {
      throw .failedPrecondition(
        "\(resource.name) differs from its baseline in \(readOnly.joined(separator: ", ")), which Fixpoint cannot write: capture a new baseline to accept it")
    }
    let operations = fields.map { field in PathOperation(DocumentPath(segments: [field]), baseline[field] ?? .null) }
    return HandlerPlan(
      operations: operations,
      description: "Revert \(fields.joined(separator: ", ")) of \(resource.type) \(resource.name) to baseline \(baselineID)", risk: self.info.risk)
  }

  /// Each written field reads back as planned, compared as drift compares it.
  static func verdict(_ changeSet: ChangeSet, after live: JSONValue) -> [String] {
    var planned: [String: JSONValue] = [:]
    for op in changeSet.operations { planned[op.path.description] = op.value }
    let subset = JSONValue.object(Dictionary(uniqueKeysWithValues: planned.keys.map { ($0, live[$0] ?? .null) }))
    return diff(.object(planned), subset, type: changeSet.resource.type).map(\.path.description)
  }
}
