import FixpointDocuments
import Foundation

/// IAM.22: no password or active access key has gone unused for 45 days. Keys can be deactivated;
/// deleting a console password cannot be undone, so a stale password is fixed by hand.
struct IAMUnusedCredentialsRemoved: Control {
  let id = "IAM.22"
  let title = "IAM user credentials unused for 45 days should be removed"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.iamUser]
  let reads = paths("access_keys", "console_password", "password_last_used", "created")
  let parameters = [ControlParameter("max_credential_usage_age_days", "the longest a credential may go unused", default: 45)]
  let remediation = "Deactivate access keys and remove console passwords that have not been used within the limit."
  let examples = ControlExamples(
    type: ResourceTypeName.iamUser,
    failing: ["user_name": "old", "created": "2001-01-01T00:00:00Z", "console_password": false,
              "access_keys": ["AKIAIDLE": ["status": "Active", "created": "2001-01-01T00:00:00Z", "last_used_date": "2001-02-01T00:00:00Z"]]],
    passing: ["user_name": "old", "created": "2001-01-01T00:00:00Z", "console_password": false,
              "access_keys": ["AKIAIDLE": ["status": "Inactive", "created": "2001-01-01T00:00:00Z", "last_used_date": "2001-02-01T00:00:00Z"]]])

  /// When a credential was last used, or made if never used.
  func idleDays(lastUsed: String?, created: String?, now: Date) -> Int? {
    guard let since = parseDate(lastUsed) ?? parseDate(created) else { return nil }
    return days(from: since, to: now)
  }

  func idleKeys(_ document: JSONValue, _ parameters: Parameters) -> [String] {
    let limit = parameters.int("max_credential_usage_age_days")
    return (document["access_keys"]?.objectValue ?? [:]).compactMap { id, key in
      guard key["status"]?.stringValue == "Active",
            let idle = self.idleDays(lastUsed: key["last_used_date"]?.stringValue, created: key["created"]?.stringValue, now: parameters.now)
      else { return nil }
      return idle >= limit ? id : nil
    }.sorted()
  }

  func idlePassword(_ document: JSONValue, _ parameters: Parameters) -> Bool {
    guard document["console_password"]?.boolValue == true else { return false }
    let idle = self.idleDays(
      lastUsed: document["password_last_used"]?.stringValue, created: document["created"]?.stringValue, now: parameters.now)
    return (idle ?? 0) >= parameters.int("max_credential_usage_age_days")
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    var failing = self.idleKeys(document, parameters).map { at("access_keys", $0, "status") }
    var reasons = failing.isEmpty ? [] : ["\(failing.count) active access key(s) unused for \(parameters.int("max_credential_usage_age_days")) days or more"]
    if self.idlePassword(document, parameters) {
      failing.append(at("console_password"))
      reasons.append("the console password is unused for \(parameters.int("max_credential_usage_age_days")) days or more")
    }
    return failing.isEmpty ? .pass : .fail(paths: failing, reason: reasons.joined(separator: "; "))
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    if self.idlePassword(document, parameters) { return nil }
    return self.idleKeys(document, parameters).map { PathOperation(at("access_keys", $0, "status"), "Inactive") }
  }
}
