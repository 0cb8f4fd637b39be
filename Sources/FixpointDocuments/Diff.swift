/// One value that differs between two documents: absent on a side is null.
public struct PathDifference: Sendable, Hashable, CustomStringConvertible {
  public var path: DocumentPath
  public var before: JSONValue
  public var after: JSONValue

  public init(path: DocumentPath, before: JSONValue, after: JSONValue) {
    self.path = path
    self.before = before
    self.after = after
  }

  public var description: String { "\(self.path): \(self.before) → \(self.after)" }
}

extension JSONValue {
  /// The leaf values that differ from `self` to `other`, path by path, in path order. Objects are
  /// compared member by member (an object against an absent one too); arrays and scalars whole.
  /// Null and absent are the same.
  public func differences(to other: JSONValue) -> [PathDifference] {
    var out: [PathDifference] = []
    var prefix: [String] = []
    if self.objectValue == nil || other.objectValue == nil {
      // Two documents that are not both objects differ whole; a path needs one segment.
      if self.withoutNulls != other.withoutNulls {
        out.append(PathDifference(path: DocumentPath(segments: ["$"]), before: self.withoutNulls, after: other.withoutNulls))
      }
      return out
    }
    Self.collect(self, other, prefix: &prefix, into: &out)
    return out
  }

  /// One pass, no copies of the documents: an object member that is null counts as absent, and
  /// objects are descended without first comparing them whole (a whole comparison at every level
  /// would visit each subtree once per level above it).
  private static func collect(_ a: JSONValue, _ b: JSONValue, prefix: inout [String], into out: inout [PathDifference]) {
    let left = a.objectValue ?? (a == .null ? b.objectValue.map { _ in [:] } : nil)
    let right = b.objectValue ?? (b == .null ? a.objectValue.map { _ in [:] } : nil)
    if let left, let right {
      var keys = Array(left.keys)
      for key in right.keys where left[key] == nil { keys.append(key) }
      keys.sort()
      for key in keys {
        let l = left[key] ?? .null, r = right[key] ?? .null
        if l == .null && r == .null { continue }
        prefix.append(key)
        Self.collect(l, r, prefix: &prefix, into: &out)
        prefix.removeLast()
      }
      return
    }
    if case .array = a, case .array = b, a == b { return }
    let (l, r) = (a.withoutNulls, b.withoutNulls)
    if l != r { out.append(PathDifference(path: DocumentPath(segments: prefix), before: l, after: r)) }
  }
}

/// The differences between two documents of one resource type, under that type's rules: values
/// the cloud assigns, volatile values and the order of sets never differ.
public func diff(_ before: JSONValue, _ after: JSONValue, type: String) -> [PathDifference] {
  let schema = ResourceSchema.of(type)
  let left = schema.withoutVolatile(schema.comparable(before))
  let right = schema.withoutVolatile(schema.comparable(after))
  return left.differences(to: right)
}
