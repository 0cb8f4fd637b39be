import FixpointDocuments

/// IAM.5: a user with a console password has an MFA device. Only the user can enroll one.
struct IAMConsoleUsersHaveMFA: Control {
  let id = "IAM.5"
  let title = "MFA should be enabled for all IAM users that have a console password"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.iamUser]
  let reads = paths("console_password", "mfa_devices")
  let remediation = "Ask the user to enroll an MFA device; until then, consider removing the console password."
  let examples = ControlExamples(
    type: ResourceTypeName.iamUser, failing: ["user_name": "alice", "console_password": true, "mfa_devices": []],
    passing: ["user_name": "alice", "console_password": true, "mfa_devices": ["arn:aws:iam::123456789012:mfa/alice"]])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard document["console_password"]?.boolValue == true else { return .notApplicable(reason: "the user has no console password") }
    return (document["mfa_devices"]?.arrayValue ?? []).isEmpty
      ? .fail(paths: paths("mfa_devices"), reason: "the user signs in to the console without MFA") : .pass
  }
}
