import ArgumentParser
import Crypto
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore

/// `fixpoint findings import FILE.json`: Security Hub findings (ASFF) into the dispatcher.
struct ImportFindings: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import Security Hub findings (ASFF JSON: a GetFindings answer or a list of findings).",
    discussion: """
      Each failed, active finding becomes a Fixpoint finding: its control id from \
      Compliance.SecurityControlId, ProductFields.ControlId or the end of GeneratorId; its \
      resource from Resources[0], matched to inventory's resources by ARN. Passed, archived, \
      resolved and suppressed findings are skipped. Importing the same file again changes nothing \
      (each finding's Id makes its request id; a finding without an Id is named by a hash of its \
      whole content, so the same finding imports once and two different ones never collide). \
      With --dry-run each finding is matched to inventory and validated by the dispatcher, and \
      nothing is stored. Each finding is imported or refused on its own: the listing says which, \
      with the reason (a description over 10,000 characters, a finding over the 16 MiB request \
      limit), and the command exits 2 when any was refused.
      """)
  @Argument(help: "The ASFF JSON file.") var file: String
  @Flag(help: "Match and validate every finding, list what would be imported, store nothing.") var dryRun = false
  @Option(help: "table or json.") var output: OutputFormat = .table
  @OptionGroup var connection: ConnectionOptions

  struct Imported {
    var asffID, control, resource, outcome, findingID: String
  }

  func run() async throws {
    guard let data = FileManager.default.contents(atPath: self.file) else { throw CLIError("cannot read \(self.file)") }
    let parsed = try? JSONSerialization.jsonObject(with: data)
    guard let list = (parsed as? [String: Any])?["Findings"] as? [[String: Any]] ?? parsed as? [[String: Any]] else {
      throw CLIError("\(self.file) is not ASFF: expected {\"Findings\": [...]} or a list of findings")
    }
    // inventory's resources by external id (ARN), to name each finding's resource.
    let resources = try await self.connection.call(.inventory) { client in
      let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
      let all = try await allPages { token in
        let page = try await inventory.listResources(.with { $0.pageSize = 1000; $0.pageToken = token; $0.status = .active }, options: cliCallOptions)
        return (page.resources, page.nextPageToken)
      }
      return Dictionary(all.map { ($0.externalID, $0) }, uniquingKeysWith: { _, last in last })
    }
    var rows: [Imported] = []
    var requests: [(Int, Fixpoint_V1_SubmitFindingRequest)] = []
    for (i, f) in list.enumerated() {
      let id = f["Id"] as? String ?? "#\(i) (no Id)"
      // The request id: from the Id, or, without one, from the finding's whole content (its
      // position in the file would make another file's first Id-less finding look like a repeat).
      let identity = f["Id"] as? String
        ?? "content:" + String(decoding: (try? JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
      let compliance = f["Compliance"] as? [String: Any] ?? [:]
      let workflow = (f["Workflow"] as? [String: Any])?["Status"] as? String ?? "NEW"
      if compliance["Status"] as? String == "PASSED" || f["RecordState"] as? String == "ARCHIVED" || ["RESOLVED", "SUPPRESSED"].contains(workflow) {
        rows.append(Imported(asffID: id, control: "", resource: "", outcome: "skipped (passed, archived or closed)", findingID: ""))
        continue
      }
      let control = compliance["SecurityControlId"] as? String
        ?? (f["ProductFields"] as? [String: Any])?["ControlId"] as? String
        ?? (f["GeneratorId"] as? String).flatMap { $0.split(separator: "/").last.map(String.init) } ?? ""
      let first = (f["Resources"] as? [[String: Any]])?.first ?? [:]
      let external = first["Id"] as? String ?? ""
      let known = resources[external]
      let label = ((f["Severity"] as? [String: Any])?["Label"] as? String ?? "MEDIUM").uppercased()
      let severity: Fixpoint_V1_Severity = switch label {
      case "CRITICAL": .critical
      case "HIGH": .high
      case "LOW": .low
      case "INFORMATIONAL": .info
      default: .medium
      }
      let request = Fixpoint_V1_SubmitFindingRequest.with { r in
        r.requestID = "asff-" + SHA256.hash(data: Data(identity.utf8)).map { String(format: "%02x", $0) }.joined()
        r.finding = .with {
          $0.source = "asff"
          $0.controlID = control
          $0.title = f["Title"] as? String ?? ""
          $0.description_p = f["Description"] as? String ?? ""
          $0.severity = severity
          $0.sourceRef = String(id.prefix(512))
          $0.resource = .with { ref in
            ref.resourceID = known?.id ?? ""
            ref.externalID = external
            ref.type = known?.type ?? ""
            ref.providerID = known?.providerID ?? ""
            ref.region = known?.region ?? (first["Region"] as? String ?? "")
          }
        }
      }
      rows.append(Imported(asffID: id, control: control, resource: known?.id ?? external, outcome: known == nil ? "resource not in inventory" : "", findingID: ""))
      requests.append((rows.count - 1, request))
    }
    // A dry run asks the dispatcher to validate each finding as it would on import.
    let pending = self.dryRun ? requests.map { row, request in (row, { var r = request; r.validateOnly = true; return r }()) } : requests
    let submitted = try await self.connection.call(.dispatcher) { client in
      let dispatcher = Fixpoint_V1_RemediationService.Client(wrapping: client)
      var out: [(Int, Result<Fixpoint_V1_Finding, RPCError>)] = []
      for (row, request) in pending {
        do {
          out.append((row, .success(try await dispatcher.submitFinding(request, options: cliCallOptions))))
        } catch let error as RPCError {
          out.append((row, .failure(error)))
        }
      }
      return out
    }
    var failures = 0
    for (row, result) in submitted {
      switch result {
      case .success(let finding):
        rows[row].findingID = finding.id
        let done = self.dryRun ? "would import" : "imported"
        rows[row].outcome = rows[row].outcome.isEmpty ? done : "\(done); \(rows[row].outcome)"
      case .failure(let error):
        failures += 1
        rows[row].outcome = "refused: \(error.message)"
      }
    }
    try printListing(
      rows.map { ["asff_id": $0.asffID, "control": $0.control, "resource": $0.resource, "finding": $0.findingID, "outcome": $0.outcome] },
      columns: ["finding", "control", "resource", "outcome", "asff_id"], format: self.output)
    if failures > 0 { throw ExitCode(2) }
  }
}
