import FixpointCore
import Inventory

await ServiceRunner.main(
  service: .inventory, summary: "cloud accounts, resources, baselines and snapshots; the only service that calls cloud APIs",
  settings: InventoryApp.settings, build: InventoryApp.build)
