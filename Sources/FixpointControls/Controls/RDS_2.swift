import FixpointDocuments

/// RDS.2: the instance is not publicly accessible.
struct RDSNotPublic: SettingControl {
  let id = "RDS.2"
  let title = "RDS DB Instances should prohibit public access, as determined by the PubliclyAccessible configuration"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.rdsInstance]
  let field = at("publicly_accessible")
  let expected: JSONValue = false
  let problem = "the instance is publicly accessible"
  let remediation = "Turn off public accessibility (ModifyDBInstance PubliclyAccessible=false); clients outside the VPC lose access."
  let terraform: TerraformFix? = TerraformFix("aws_db_instance", "publicly_accessible")
  let examples = rdsExamples("publicly_accessible", failing: true, passing: false)

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document["publicly_accessible"]?.boolValue == true ? .fail(paths: [self.field], reason: self.problem) : .pass
  }
}
