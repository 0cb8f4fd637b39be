import FixpointDocuments

/// EC2.3: an attached volume is encrypted (unattached volumes are not in scope). A volume cannot
/// be encrypted in place: by hand.
struct EC2AttachedVolumeEncrypted: Control {
  let id = "EC2.3"
  let title = "Attached Amazon EBS volumes should be encrypted at-rest"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.ebsVolume]
  let reads = paths("encrypted", "state", "attached_instances")
  let remediation = "Snapshot the volume, copy the snapshot with encryption, create a volume from it and swap it in during a maintenance window."
  let terraform: TerraformFix? = TerraformFix("aws_ebs_volume", "encrypted")
  let examples = ControlExamples(
    type: ResourceTypeName.ebsVolume, failing: ["id": "vol-1", "state": "in-use", "attached_instances": ["i-1"], "encrypted": false],
    passing: ["id": "vol-1", "state": "in-use", "attached_instances": ["i-1"], "encrypted": true])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let attached = document["state"]?.stringValue == "in-use" || !(document["attached_instances"]?.arrayValue ?? []).isEmpty
    guard attached else { return .notApplicable(reason: "the volume is not attached") }
    return document["encrypted"]?.boolValue == true ? .pass : .fail(paths: paths("encrypted"), reason: "the attached volume is not encrypted")
  }
}
