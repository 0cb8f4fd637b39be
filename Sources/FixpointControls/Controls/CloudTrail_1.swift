import FixpointDocuments

/// CloudTrail.1: the account has a multi-Region trail that is logging and records read and write
/// management events. Evaluated on the account's trail summary (`cloudtrail_account`).
struct CloudTrailMultiRegionEnabled: Control {
  let id = "CloudTrail.1"
  let title = "CloudTrail should be enabled and configured with at least one multi-Region trail that includes read and write management events"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.cloudTrailAccount]
  let reads = paths("trails")
  let remediation = "Create a multi-Region trail that logs all read and write management events to an S3 bucket and start logging it."
  let terraform: TerraformFix? = TerraformFix("aws_cloudtrail", "is_multi_region_trail, enable_logging")
  let examples = ControlExamples(
    type: ResourceTypeName.cloudTrailAccount,
    failing: ["trails": ["local": ["is_multi_region_trail": false, "is_logging": true, "management_events": "All"]]],
    passing: ["trails": ["org": ["is_multi_region_trail": true, "is_logging": true, "management_events": "All"]]])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let trails = document["trails"]?.objectValue ?? [:]
    let good = trails.values.contains { t in
      t["is_multi_region_trail"]?.boolValue == true && t["is_logging"]?.boolValue == true && t["management_events"]?.stringValue == "All"
    }
    if good { return .pass }
    return .fail(
      paths: paths("trails"),
      reason: trails.isEmpty ? "the account has no trail" : "no trail is multi-Region, logging, and recording all management events")
  }
}
