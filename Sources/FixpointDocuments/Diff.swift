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
    Self.collect(self.withoutNulls, other.withoutNulls, prefix: [], into: &out)
    return out
  }

  private static func collect(_ a: JSONValue, _ b: JSONValue, prefix: [String], into out: inout [PathDifference]) {
    guard a != b else { return }
    // An absent side of an object descends too, so each added or removed member is named.
    let left = a == .null ? b.objectValue.map { _ in [String: JSONValue]() } : a.objectValue
    let right = b == .null ? a.objectValue.map { _ in [String: JSONValue]() } : b.objectValue
    if let left, let right {
      for key in Set(left.keys).union(right.keys).sorted() {
        Self.collect(left[key] ?? .null, right[key] ?? .null, prefix: prefix + [key], into: &out)
      }
    } else if prefix.isEmpty {
      // Two documents that are not both objects differ whole; a path needs one segment.
      out.append(PathDifference(path: DocumentPath(segments: ["$"]), before: a, after: b))
    } else {
      out.append(PathDifference(path: DocumentPath(segments: prefix), before: a, after: b))
    }
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
