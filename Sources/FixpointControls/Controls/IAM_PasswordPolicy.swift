import FixpointDocuments

/// Parsed once: `reads` is asked on every evaluation.
let policyPath = paths("policy")

/// A password policy setting that must be at least some number; the fix raises only that setting.
protocol PasswordPolicyMinimum: Control {
  var setting: String { get }
  var what: String { get }
}

extension PasswordPolicyMinimum {
  var resourceTypes: [String] { [ResourceTypeName.iamPasswordPolicy] }
  var reads: [DocumentPath] { policyPath }
  var terraform: TerraformFix? { TerraformFix("aws_iam_account_password_policy", self.setting) }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let minimum = parameters.int("minimum")
    guard let policy = document["policy"], policy != .null else {
      return .fail(paths: paths("policy"), reason: "the account has no password policy")
    }
    let value = policy[self.setting]?.intValue ?? 0
    return value >= minimum ? .pass : .fail(paths: [at("policy", self.setting)], reason: "\(self.what) is \(value), under \(minimum)")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("policy", self.setting), .number(Double(parameters.int("minimum"))))]
  }
}

/// IAM.15: passwords are at least 14 characters.
struct IAMPasswordMinimumLength: PasswordPolicyMinimum {
  let id = "IAM.15"
  let title = "Ensure IAM password policy requires minimum password length of 14 or greater"
  let severity = Severity.medium
  let parameters = [ControlParameter("minimum", "the shortest password allowed", default: 14)]
  let setting = "minimum_password_length"
  let what = "the minimum password length"
  let remediation = "Set the account password policy's minimum length to 14 or more (UpdateAccountPasswordPolicy)."
  let examples = ControlExamples(
    type: ResourceTypeName.iamPasswordPolicy, failing: ["policy": ["minimum_password_length": 8]],
    passing: ["policy": ["minimum_password_length": 16, "password_reuse_prevention": 24]])
}

/// IAM.16: the last 24 passwords cannot be reused.
struct IAMPasswordReusePrevention: PasswordPolicyMinimum {
  let id = "IAM.16"
  let title = "Ensure IAM password policy prevents password reuse"
  let severity = Severity.low
  let parameters = [ControlParameter("minimum", "how many previous passwords cannot be reused", default: 24)]
  let setting = "password_reuse_prevention"
  let what = "password reuse prevention"
  let remediation = "Set the account password policy to remember the last 24 passwords (UpdateAccountPasswordPolicy)."
  let examples = ControlExamples(
    type: ResourceTypeName.iamPasswordPolicy, failing: ["policy": ["minimum_password_length": 14]],
    passing: ["policy": ["minimum_password_length": 14, "password_reuse_prevention": 24]])
}
