import FixpointDocuments

/// EC2.6: the VPC has an active flow log capturing at least rejected traffic.
struct EC2VPCFlowLogs: Control {
  let id = "EC2.6"
  let title = "VPC flow logging should be enabled in all VPCs"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.vpc]
  let reads = paths("flow_logs")
  let parameters = [ControlParameter(
    "flow_log_destination", "the S3 bucket ARN new flow logs deliver to; empty: fix by hand", default: "")]
  let remediation = "Create a flow log for the VPC capturing REJECT (or ALL) traffic to S3 or CloudWatch Logs (CreateFlowLogs); it costs storage."
  let terraform: TerraformFix? = TerraformFix("aws_flow_log", "vpc_id, traffic_type")
  let examples = ControlExamples(
    type: ResourceTypeName.vpc, failing: ["id": "vpc-1"],
    passing: ["id": "vpc-1", "flow_logs": ["REJECT s3 arn:aws:s3:::logs": ["traffic_type": "REJECT", "destination_type": "s3", "destination": "arn:aws:s3:::logs", "status": "ACTIVE"]]],
    parameters: ["flow_log_destination": "arn:aws:s3:::logs"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let logs = (document["flow_logs"]?.objectValue ?? [:]).values
    let capturing = logs.contains { log in
      ["REJECT", "ALL"].contains(log["traffic_type"]?.stringValue ?? "") && (log["status"]?.stringValue ?? "ACTIVE") == "ACTIVE"
    }
    return capturing ? .pass : .fail(paths: paths("flow_logs"), reason: "no active flow log captures the VPC's rejected traffic")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    let destination = parameters.string("flow_log_destination")
    guard destination.hasPrefix("arn:aws:s3:::") else { return nil }
    return [PathOperation(
      at("flow_logs", "REJECT s3 \(destination)"), ["traffic_type": "REJECT", "destination_type": "s3", "destination": .string(destination)])]
  }
}
