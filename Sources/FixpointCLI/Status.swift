import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore

/// Where the CLI finds each service.
struct ServiceAddressOptions: ParsableArguments {
  @Option(
    name: .customLong("addr"),
    help: ArgumentHelp(
      "Where a service listens (inventory, drift, compliance, dispatcher, notifier); repeat for several. Otherwise FIXPOINT_<SERVICE>_ADDR, the addresses `fixpoint up` recorded, or the default port.",
      valueName: "service=host:port"))
  var addr: [String] = []

  func validate() throws {
    _ = try self.flags()
  }

  /// The `--addr` values by service key.
  func flags() throws -> [String: String] {
    var out: [String: String] = [:]
    for entry in self.addr {
      let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, ServiceName.allCases.contains(where: { $0.key == parts[0] }) else {
        throw ValidationError("--addr takes SERVICE=HOST:PORT with SERVICE one of \(ServiceName.allCases.map(\.key).joined(separator: ", ")); got '\(entry.prefix(80))'")
      }
      out[parts[0]] = parts[1]
    }
    return out
  }

  /// The address of `service`: its `--addr`, else FIXPOINT_<SERVICE>_ADDR, else where `fixpoint up`
  /// last ran it for this data directory (DATA_DIR/addresses.json), else the default port.
  func address(of service: ServiceName, dataDirectory: String) throws -> PeerAddress {
    let env = ProcessInfo.processInfo.environment["FIXPOINT_\(service.key.uppercased())_ADDR"]
    let text = try self.flags()[service.key] ?? env ?? SuiteAddresses.read(dataDirectory: dataDirectory)[service.key] ?? "127.0.0.1:\(service.defaultGRPCPort)"
    guard let address = PeerAddress(text) else { throw ValidationError("\(service.key) address '\(text.prefix(80))' is not host:port") }
    return address
  }
}

/// `fixpoint status`: health, version and address of all five services.
struct Status: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show whether each service answers its health check, with its version and address.")

  @OptionGroup var addresses: ServiceAddressOptions
  @OptionGroup var data: DataDirOptions
  @Option(help: "table or json.") var output: OutputFormat = .table

  func run() async throws {
    var rows: [[String: String]] = []
    var allServing = true
    for service in ServiceName.allCases {
      let address = try self.addresses.address(of: service, dataDirectory: self.data.resolved)
      var row = ["service": service.rawValue, "address": address.description, "status": "", "version": ""]
      do {
        let (status, version) = try await Self.check(address)
        row["status"] = status
        row["version"] = version
        if status != "serving" { allServing = false }
      } catch let error as RPCError {
        row["status"] = "unreachable: \(error.code)"
        allServing = false
      }
      rows.append(row)
    }
    try printListing(rows, columns: ["service", "status", "version", "address"], format: self.output)
    if !allServing { throw ExitCode(3) }
  }

  /// The health status and reported version of the service at `address`.
  static func check(_ address: PeerAddress) async throws -> (String, String) {
    try await ClientFactory.withClient(address: address, tls: nil, token: "") { client in
      var options = CallOptions.defaults
      options.timeout = .seconds(3)
      return try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init(), options: options) { response in
        let message = try response.message
        let version = response.metadata[stringValues: "fixpoint-version"].first(where: { _ in true }) ?? ""
        return (message.status == .serving ? "serving" : "\(message.status)".lowercased(), version)
      }
    }
  }
}

/// Where `fixpoint up` runs each service, recorded in the data directory so that other commands
/// given the same data directory find a suite started with --port-offset.
enum SuiteAddresses {
  static func path(_ dataDirectory: String) -> String { dataDirectory + "/addresses.json" }

  static func read(dataDirectory: String) -> [String: String] {
    guard let data = FileManager.default.contents(atPath: self.path(dataDirectory)),
      let map = try? JSONSerialization.jsonObject(with: data) as? [String: String]
    else { return [:] }
    return map
  }

  static func write(_ map: [String: String], dataDirectory: String) throws {
    let data = try JSONSerialization.data(withJSONObject: map, options: [.prettyPrinted, .sortedKeys])
    try data.write(to: URL(fileURLWithPath: self.path(dataDirectory)), options: .atomic)
  }
}
