import FixpointDocuments

/// An RDS instance example pair differing in one field.
func rdsExamples(_ field: String, failing: JSONValue, passing: JSONValue) -> ControlExamples {
  ControlExamples(
    type: ResourceTypeName.rdsInstance,
    failing: .object(["identifier": "db1", "engine": "postgres", field: failing]),
    passing: .object(["identifier": "db1", "engine": "postgres", field: passing]))
}
