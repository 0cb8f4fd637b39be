import FixpointCore
import Remediation

await ServiceRunner.main(
  service: .dispatcher, summary: "turns findings into approved, audited, reversible remediation actions",
  settings: RemediationApp.settings, build: RemediationApp.build)
