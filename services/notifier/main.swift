import FixpointCore
import Notifier

await ServiceRunner.main(
  service: .notifier, summary: "alerts and their delivery to Slack, email and signed webhooks",
  settings: NotifierApp.settings, build: NotifierApp.build)
