public import FixpointDocuments
import Foundation

/// One path's value before and after a change.
public struct PlannedDiff: Sendable, Equatable {
  public var path: DocumentPath
  public var before: JSONValue
  public var after: JSONValue
}

/// Turns path operations on a resource into the diff they make and the fields to write, refusing
/// unknown paths and values the API cannot take before anything is called.
public enum ChangePlanner {
  public struct Plan: Sendable {
    /// Only the operations not already in place.
    public var diffs: [PlannedDiff]
    /// Top-level field → its desired value, for every field that changes.
    public var fields: [String: JSONValue]
  }

  public static func plan(_ type: any ResourceType, current: JSONValue, operations: [(DocumentPath, JSONValue)]) throws -> Plan {
    var desired = current
    for (path, value) in operations {
      guard type.writers[path.unit] != nil else {
        throw ChangeError(
          field: path.description,
          reason: "\(type.name) cannot change '\(path.unit)'; it can change \(type.writers.keys.sorted().joined(separator: ", "))")
      }
      desired.set(value.withoutNulls, at: path)
    }
    let currentComparable = type.comparable(current)
    let desiredComparable = type.comparable(desired)
    let diffs = operations.compactMap { path, _ -> PlannedDiff? in
      let before = currentComparable.value(at: path).withoutNulls
      let after = desiredComparable.value(at: path).withoutNulls
      return before == after ? nil : PlannedDiff(path: path, before: before, after: after)
    }
    var fields: [String: JSONValue] = [:]
    for unit in Set(operations.map(\.0.unit)) {
      let root = DocumentPath(segments: [unit])
      guard desiredComparable.value(at: root) != currentComparable.value(at: root) else { continue }
      let wanted = desired.value(at: root)
      try type.writers[unit]!.validate(wanted)
      fields[unit] = wanted
    }
    return Plan(diffs: diffs, fields: fields)
  }

  /// Writes a plan's fields, in a stable order.
  public static func apply(_ plan: Plan, to resource: CloudResource, type: any ResourceType, account: AWSAccount) async throws {
    for field in plan.fields.keys.sorted() {
      try await type.writers[field]!.write(account, resource, plan.fields[field]!)
    }
  }
}

/// The resource types inventory knows, by name.
public enum ResourceCatalog {
  public static let all: [any ResourceType] = [
    S3Bucket(), S3AccountPublicAccessBlock(), SecurityGroup(), EC2Instance(), EBSVolume(), EBSEncryptionDefault(), VPC(),
    IAMUser(), IAMPasswordPolicy(), RDSInstance(), CloudTrailTrail(), CloudTrailAccount(), GuardDutyDetector(), KMSKey(),
    Subnet(), NetworkACL(), EBSSnapshot(), LambdaFunction(),
  ]

  public static let byName: [String: any ResourceType] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
