import FixpointCore
import Drift

await ServiceRunner.main(
  service: .drift, summary: "live configuration against baselines and Infrastructure-as-Code",
  settings: DriftApp.settings, build: DriftApp.build)
