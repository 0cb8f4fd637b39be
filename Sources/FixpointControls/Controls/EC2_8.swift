import FixpointDocuments

/// EC2.8: the instance requires IMDSv2 session tokens.
struct EC2RequiresIMDSv2: Control {
  let id = "EC2.8"
  let title = "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.ec2Instance]
  let reads = paths("metadata_options")
  let remediation = "Require session tokens on the instance metadata service (ModifyInstanceMetadataOptions HttpTokens=required); IMDSv1 clients on the instance stop working."
  let terraform: TerraformFix? = TerraformFix("aws_instance", "metadata_options.http_tokens")
  let examples = ControlExamples(
    type: ResourceTypeName.ec2Instance,
    failing: ["id": "i-1", "metadata_options": ["http_tokens": "optional", "http_endpoint": "enabled"]],
    passing: ["id": "i-1", "metadata_options": ["http_tokens": "required", "http_endpoint": "enabled"]])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    if document["metadata_options"]?["http_endpoint"]?.stringValue == "disabled" { return .pass }
    let tokens = document["metadata_options"]?["http_tokens"]?.stringValue ?? "optional"
    return tokens == "required" ? .pass : .fail(paths: paths("metadata_options.http_tokens"), reason: "IMDSv1 is allowed (http_tokens=\(tokens))")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("metadata_options", "http_tokens"), "required")]
  }
}
