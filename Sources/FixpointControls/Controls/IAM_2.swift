import FixpointDocuments

/// IAM.2: permissions come through groups or roles, not policies on the user.
struct IAMUserNoPolicies: Control {
  let id = "IAM.2"
  let title = "IAM users should not have IAM policies attached"
  let severity = Severity.low
  let resourceTypes = [ResourceTypeName.iamUser]
  let reads = paths("attached_policies", "inline_policies")
  let remediation = "Move the user's policies to a group, add the user to it, then detach the policies from the user."
  let terraform: TerraformFix? = TerraformFix("aws_iam_user_policy_attachment", "(remove; use aws_iam_group_policy_attachment)")
  let examples = ControlExamples(
    type: ResourceTypeName.iamUser, failing: ["user_name": "bob", "attached_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]],
    passing: ["user_name": "bob", "attached_policies": [], "inline_policies": []])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let fields = ["attached_policies", "inline_policies"].filter { !(document[$0]?.arrayValue ?? []).isEmpty }
    return fields.isEmpty ? .pass : .fail(paths: fields.map { at($0) }, reason: "the user has policies of its own (\(fields.joined(separator: ", ")))")
  }
}
