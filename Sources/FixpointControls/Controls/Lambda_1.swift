import FixpointDocuments

/// Lambda.1: the function's resource policy grants nobody outside the account (an unconditional
/// public principal). The fix removes those statements by id.
struct LambdaNotPublic: Control {
  let id = "Lambda.1"
  let title = "Lambda function policies should prohibit public access"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.lambdaFunction]
  let reads = paths("policy_statements")
  let remediation = "Remove the policy statements that allow any principal (RemovePermission), or add a SourceAccount/SourceArn condition."
  let terraform: TerraformFix? = TerraformFix("aws_lambda_permission", "principal, source_account")
  let examples = ControlExamples(
    type: ResourceTypeName.lambdaFunction,
    failing: ["name": "f", "policy_statements": ["open": ["Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"]]],
    passing: ["name": "f", "policy_statements": ["s3": ["Effect": "Allow", "Principal": ["Service": "s3.amazonaws.com"], "Action": "lambda:InvokeFunction",
                                                       "Condition": ["StringEquals": ["AWS:SourceAccount": "123456789012"]]]]])

  func publicStatements(_ document: JSONValue) -> [String] {
    (document["policy_statements"]?.objectValue ?? [:]).filter { _, statement in
      statement["Effect"]?.stringValue == "Allow" && isPublicPrincipal(statement) && statement["Condition"] == nil
    }.keys.sorted()
  }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let open = self.publicStatements(document)
    return open.isEmpty
      ? .pass : .fail(paths: open.map { at("policy_statements", $0) }, reason: "policy statements \(open.joined(separator: ", ")) allow anyone to invoke the function")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    self.publicStatements(document).map { PathOperation(at("policy_statements", $0), .null) }
  }
}
