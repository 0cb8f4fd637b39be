import FixpointDocuments

/// IAM.3: no active access key is older than the limit (90 days). The fix deactivates the stale
/// keys; the dispatcher's rotation first makes a new key and hands its secret to the sink.
struct IAMAccessKeysRotated: Control {
  let id = "IAM.3"
  let title = "IAM users' access keys should be rotated every 90 days or less"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.iamUser]
  let reads = paths("access_keys")
  let parameters = [ControlParameter("max_access_key_age_days", "the oldest an active key may be", default: 90)]
  let remediation = "Create a new access key, move its users to it, then deactivate (and later delete) the old one."
  let examples = ControlExamples(
    type: ResourceTypeName.iamUser,
    failing: ["user_name": "ci", "access_keys": ["AKIAOLD": ["status": "Active", "created": "2001-01-01T00:00:00Z"]]],
    passing: ["user_name": "ci", "access_keys": ["AKIAOLD": ["status": "Inactive", "created": "2001-01-01T00:00:00Z"],
                                                   "AKIANEW": ["status": "Active", "created": "2999-01-01T00:00:00Z"]]])

  /// The active keys at least `max_access_key_age_days` old, oldest first.
  func stale(_ document: JSONValue, _ parameters: Parameters) -> [(id: String, age: Int)] {
    let limit = parameters.int("max_access_key_age_days")
    return (document["access_keys"]?.objectValue ?? [:]).compactMap { id, key -> (String, Int)? in
      guard key["status"]?.stringValue == "Active", let created = parseDate(key["created"]?.stringValue) else { return nil }
      let age = days(from: created, to: parameters.now)
      return age >= limit ? (id, age) : nil
    }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let stale = self.stale(document, parameters)
    return stale.isEmpty
      ? .pass
      : .fail(paths: stale.map { at("access_keys", $0.id, "status") },
              reason: stale.map { "active access key \($0.id) is \($0.age) days old" }.joined(separator: "; "))
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    self.stale(document, parameters).map { PathOperation(at("access_keys", $0.id, "status"), "Inactive") }
  }
}
