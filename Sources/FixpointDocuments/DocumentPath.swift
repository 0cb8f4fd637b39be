public import Foundation

/// A path into a configuration document: dot-separated names, with `[key]` for map keys that
/// hold dots or spaces — `public_access_block.block_public_acls`, `ingress[tcp 22-22 0.0.0.0/0]`,
/// `access_keys[AKIA…].status`. The first segment is the document's top-level field (the unit
/// one API call writes).
public struct DocumentPath: Hashable, Sendable, CustomStringConvertible {
  public var segments: [String]

  public init(segments: [String]) { self.segments = segments }

  public init(_ text: String) throws(DocumentPathError) {
    var segments: [String] = []
    var current = ""
    var iterator = text.makeIterator()
    var justClosedBracket = false
    while let c = iterator.next() {
      switch c {
      case ".":
        if current.isEmpty && !justClosedBracket { throw .malformed(text) }
        if !current.isEmpty { segments.append(current) }
        current = ""
        justClosedBracket = false
      case "[":
        if !current.isEmpty { segments.append(current) } else if segments.isEmpty { throw .malformed(text) }
        current = ""
        var key = ""
        var closed = false
        while let k = iterator.next() {
          if k == "]" { closed = true; break }
          key.append(k)
        }
        guard closed, !key.isEmpty else { throw .malformed(text) }
        segments.append(key)
        justClosedBracket = true
      case "]":
        throw .malformed(text)
      default:
        guard c.isLetter || c.isNumber || c == "_" || c == "-" else { throw .malformed(text) }
        if justClosedBracket { throw .malformed(text) }
        current.append(c)
      }
    }
    if !current.isEmpty { segments.append(current) } else if !justClosedBracket { throw .malformed(text) }
    guard !segments.isEmpty, segments.count <= 8, text.count <= 512 else { throw .malformed(text) }
    self.segments = segments
  }

  /// The top-level field this path is in.
  public var unit: String { self.segments[0] }

  public var description: String {
    var out = self.segments[0]
    for s in self.segments.dropFirst() {
      // Field names are snake_case; anything else (ids, tag keys, rule keys) prints as [key].
      if s.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "_" }) { out += "." + s } else { out += "[" + s + "]" }
    }
    return out
  }
}

public enum DocumentPathError: Error, Equatable, CustomStringConvertible {
  case malformed(String)
  public var description: String {
    switch self {
    case .malformed(let p): "'\(p)' is not a document path (name.name, or name[key] for keys with dots)"
    }
  }
}

extension JSONValue {
  /// The value at `path`; an absent member is null.
  public func value(at path: DocumentPath) -> JSONValue {
    var node = self
    for segment in path.segments {
      switch node {
      case .object(let o): node = o[segment] ?? .null
      case .array(let a):
        guard let i = Int(segment), a.indices.contains(i) else { return .null }
        node = a[i]
      default: return .null
      }
    }
    return node
  }

  /// Sets `value` at `path`, making objects along the way. Setting null removes a member.
  public mutating func set(_ value: JSONValue, at path: DocumentPath) {
    self.set(value, at: path.segments[...])
  }

  private mutating func set(_ value: JSONValue, at segments: ArraySlice<String>) {
    guard let first = segments.first else {
      self = value
      return
    }
    var object = self.objectValue ?? [:]
    var child = object[first] ?? .null
    child.set(value, at: segments.dropFirst())
    if child == .null { object[first] = nil } else { object[first] = child }
    self = .object(object)
  }

  /// The document without null members, so that "absent" and "null" compare equal.
  public var withoutNulls: JSONValue {
    switch self {
    case .object(let o): .object(o.compactMapValues { v -> JSONValue? in v == .null ? nil : v.withoutNulls })
    case .array(let a): .array(a.map(\.withoutNulls))
    default: self
    }
  }
}

extension JSONValue {
  /// A map of objects without `keys` in each entry.
  public func removingKeysOfEntries(_ keys: Set<String>) -> JSONValue {
    guard case .object(let entries) = self else { return self }
    return .object(entries.mapValues { entry in
      guard case .object(let o) = entry else { return entry }
      return .object(o.filter { !keys.contains($0.key) })
    })
  }
}

