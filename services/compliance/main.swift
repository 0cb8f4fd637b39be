import FixpointCore
import Compliance

await ServiceRunner.main(
  service: .compliance, summary: "control packs evaluated against resources and Terraform plans",
  settings: ComplianceApp.settings, build: ComplianceApp.build)
