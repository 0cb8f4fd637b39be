import FixpointDocuments

/// EC2.1: an EBS snapshot is not restorable by everyone.
struct EC2SnapshotNotPublic: Control {
  let id = "EC2.1"
  let title = "Amazon EBS snapshots should not be configured to be publicly restorable"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.ebsSnapshot]
  let reads = paths("create_volume_permission")
  let remediation = "Remove the 'all' group from the snapshot's createVolumePermission (ModifySnapshotAttribute)."
  let terraform: TerraformFix? = nil
  let examples = ControlExamples(
    type: ResourceTypeName.ebsSnapshot, failing: ["id": "snap-1", "create_volume_permission": ["groups": ["all"], "user_ids": []]],
    passing: ["id": "snap-1", "create_volume_permission": ["groups": [], "user_ids": ["123456789012"]]])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    strings(document["create_volume_permission"]?["groups"]).contains("all")
      ? .fail(paths: paths("create_volume_permission.groups"), reason: "anyone can create a volume from the snapshot") : .pass
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    let groups = strings(document["create_volume_permission"]?["groups"]).filter { $0 != "all" }
    return [PathOperation(at("create_volume_permission", "groups"), .array(groups.map(JSONValue.string)))]
  }
}
