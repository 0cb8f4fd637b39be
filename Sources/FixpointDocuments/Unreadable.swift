/// A field inventory could not read (permission denied, an API error) is not absent: the document
/// says so under `_unreadable` (field → why), and a check that needs that field is not evaluated
/// rather than failed.
public enum Unreadable {
  /// The reserved top-level member: `{"_unreadable": {"policy": "AccessDenied: …"}}`.
  public static let key = "_unreadable"

  /// Why `field` could not be read, or nil when it was.
  public static func reason(_ document: JSONValue, field: String) -> String? {
    document[self.key]?[field]?.stringValue
  }

  /// The first of `paths` whose field could not be read, and why.
  public static func first(_ document: JSONValue, among paths: [DocumentPath]) -> (field: String, reason: String)? {
    for path in paths {
      if let reason = self.reason(document, field: path.unit) { return (path.unit, reason) }
    }
    return nil
  }

  /// `document` with `field` marked unreadable for `reason` (and its value removed).
  public static func marking(_ document: JSONValue, field: String, reason: String) -> JSONValue {
    var out = document
    out.set(.null, at: DocumentPath(segments: [field]))
    out.set(.string(reason), at: DocumentPath(segments: [self.key, field]))
    return out
  }
}
