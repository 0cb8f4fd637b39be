import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf
import Testing
import TestSupport

/// Issue 15's fuzz test: every RPC the protos declare, on the five services as real processes,
/// gets random bytes and messages built from its descriptor with hostile values; no process may
/// exit, no call may end UNKNOWN or INTERNAL or hang, undecodable bytes may not be accepted, no
/// answer or error may pass the caps, and a refused call may not change a row of any store.
/// The seed is printed; `FIXPOINT_FUZZ_SEED=<seed>` replays a run.
@Suite("Fuzz", .serialized)
struct FuzzTests {
  @Test("random bytes and hostile values on every RPC of every service: no crash, no UNKNOWN/INTERNAL, no hang, nothing accepted that does not decode, answers and errors within the caps, no row changed by a refused call")
  func fuzzEveryRPC() async throws {
    let seed = ProcessInfo.processInfo.environment["FIXPOINT_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
    print("fuzz seed \(seed) (replay: FIXPOINT_FUZZ_SEED=\(seed) scripts/test --filter FuzzTests)")
    var random = SplitMix64(seed: seed)
    let schema = try Schema(protoset: Cluster.root.appendingPathComponent("proto/fixpoint.protoset").path)
    let cluster = try await Cluster()
    let serviceToken = try await cluster.token(role: .service, subject: "inventory")
    let stores = try ServiceName.allCases.map { try RowCounter(path: cluster.databasePath($0), service: $0) }
    func counts() throws -> [String: Int] {
      try stores.reduce(into: [:]) { all, store in all.merge(try store.counts()) { $1 } }
    }
    /// Waits for relays and inboxes to finish what an accepted call set off.
    func settled() async throws -> [String: Int] {
      var last = try counts()
      for _ in 0..<100 {
        try await Task.sleep(for: .milliseconds(60))
        let now = try counts()
        if now == last { return now }
        last = now
      }
      return last
    }

    let targets: [(ServiceName, String)] = [
      (.inventory, "fixpoint.v1.InventoryService"), (.drift, "fixpoint.v1.DriftService"), (.compliance, "fixpoint.v1.ComplianceService"),
      (.dispatcher, "fixpoint.v1.RemediationService"), (.notifier, "fixpoint.v1.NotifierService"),
      (.drift, "fixpoint.v1.EventSink"), (.compliance, "fixpoint.v1.EventSink"), (.dispatcher, "fixpoint.v1.EventSink"), (.notifier, "fixpoint.v1.EventSink"),
    ]
    #expect(Set(targets.map(\.1)) == Set(schema.services.keys), "services in the protos: \(schema.services.keys.sorted())")
    var outcomes: [String: Int] = [:]
    var calls = 0
    var skipped = 0
    // Bounded: every RPC gets its undecodable, long, injection and extreme cases; the others while
    // the run keeps to 90 s (a loaded machine runs fewer). A replay (FIXPOINT_FUZZ_SEED) runs all.
    let budget: Duration? = ProcessInfo.processInfo.environment["FIXPOINT_FUZZ_SEED"] == nil ? .seconds(90) : nil
    let required: Set<String> = ["garbage", "long", "injection", "extreme"]
    let rpcCount = targets.reduce(0) { $0 + (schema.services[$1.1]?.count ?? 0) }
    var rpcIndex = 0
    var before = try await settled()
    let started = ContinuousClock.now
    for (service, serviceName) in targets {
      let token = serviceName == "fixpoint.v1.EventSink" ? serviceToken : cluster.adminToken
      // One connection per service for all its calls, as a real client would keep.
      let client = try ClientFactory.makeClient(address: cluster.address(service), tls: nil, token: token)
      let connections = Task { try await client.runConnections() }
      defer {
        client.beginGracefulShutdown()
        connections.cancel()
      }
      for method in try #require(schema.services[serviceName]) {
        rpcIndex += 1
        for fuzzCase in schema.cases(for: method.input, random: &random) {
          if let budget, !required.contains(fuzzCase.name), ContinuousClock.now - started > budget * (Double(rpcIndex) / Double(rpcCount)) {
            skipped += 1
            continue
          }
          let where_ = "\(service.rawValue) \(serviceName)/\(method.name) [\(fuzzCase.name), \(fuzzCase.bytes.count) bytes, seed \(seed)]"
          let outcome = await Self.call(client, MethodDescriptor(fullyQualifiedService: serviceName, method: method.name), fuzzCase.bytes)
          calls += 1
          outcomes[outcome.code.map { "\($0)" } ?? "ok", default: 0] += 1
          if let code = outcome.code {
            #expect(![.unknown, .internalError, .deadlineExceeded].contains(code), "\(where_): \(code): \(outcome.message.prefix(300))")
            #expect(outcome.message.utf8.count <= Bounded.errorMessage, "\(where_): a \(outcome.message.utf8.count)-byte error")
            let after = try counts()
            #expect(after == before, "\(where_) was refused (\(code)) but changed \(Self.difference(before, after))")
            before = after
          } else {
            #expect(Google_Protobuf_Empty.decodes(fuzzCase.bytes), "\(where_): accepted bytes that are not a protobuf message")
            #expect(outcome.answerBytes <= 4 << 20, "\(where_): a \(outcome.answerBytes)-byte answer")
            before = try await settled()
          }
        }
      }
      #expect(cluster.isRunning(service), "\(service.rawValue) exited during the fuzz (seed \(seed))")
    }
    // Whatever was accepted, no NUL reached a stored text (ids, names, free text alike).
    for store in stores {
      let withNUL = try await store.queue.read { db in
        try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").flatMap { table in
          try Row.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) WHERE upper(type) LIKE '%TEXT%'", arguments: [table]).compactMap { row -> String? in
            let column: String = row["name"]
            let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\" WHERE instr(\"\(column)\", char(0)) > 0") ?? 0
            return n > 0 ? "\(table).\(column)" : nil
          }
        }
      }
      #expect(withNUL.isEmpty, "\(store.tables.first ?? ""): NUL stored in \(withNUL) (seed \(seed))")
    }
    for service in ServiceName.allCases {
      #expect(cluster.isRunning(service), "\(service.rawValue) is not running (seed \(seed))")
      try await cluster.waitUntilServing(service, timeout: 5)
    }
    print("fuzz: \(calls) calls (\(skipped) optional ones skipped to keep within the budget) in \(ContinuousClock.now - started): "
      + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    #expect(calls >= rpcCount * required.count)
  }

  struct Outcome {
    var code: RPCError.Code?
    var message = ""
    var answerBytes = 0
  }

  /// One unary call with `bytes` as the request, undecoded both ways.
  static func call(_ client: GRPCClient<HTTP2ClientTransport.Posix>, _ method: MethodDescriptor, _ bytes: [UInt8]) async -> Outcome {
    var options = CallOptions.defaults
    options.timeout = .seconds(15)
    options.maxRequestMessageBytes = 64 << 20
    options.maxResponseMessageBytes = 64 << 20
    do {
      let answer = try await client.unary(
        request: ClientRequest(message: bytes), descriptor: method, serializer: RawBytes(), deserializer: RawBytes(),
        options: options) { try $0.message }
      return Outcome(code: nil, answerBytes: answer.count)
    } catch let error as RPCError {
      return Outcome(code: error.code, message: error.message)
    } catch {
      return Outcome(code: .unknown, message: "\(error)")
    }
  }

  static func difference(_ a: [String: Int], _ b: [String: Int]) -> String {
    Set(a.keys).union(b.keys).sorted().filter { a[$0] != b[$0] }.map { "\($0): \(a[$0] ?? 0) → \(b[$0] ?? 0)" }.joined(separator: ", ")
  }
}

/// Request and answer as the bytes on the wire.
struct RawBytes: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}

extension Google_Protobuf_Empty {
  /// Whether `bytes` is well-formed protobuf at all (any message's fields are unknown fields here).
  static func decodes(_ bytes: [UInt8]) -> Bool { (try? Self(serializedBytes: bytes)) != nil }
}

/// Row counts of every table of one service's SQLite file, read-only, as an operator would.
struct RowCounter {
  let queue: DatabaseQueue
  let sql: String
  let tables: [String]

  init(path: String, service: ServiceName) throws {
    var config = Configuration()
    config.readonly = true
    self.queue = try DatabaseQueue(path: path, configuration: config)
    let names = try self.queue.read {
      try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    }
    self.tables = names.map { "\(service.rawValue).\($0)" }
    self.sql = "SELECT " + names.map { "(SELECT COUNT(*) FROM \"\($0)\")" }.joined(separator: ", ")
  }

  func counts() throws -> [String: Int] {
    let row = try self.queue.read { try Row.fetchOne($0, sql: self.sql)! }
    return Dictionary(uniqueKeysWithValues: self.tables.enumerated().map { ($1, row[$0] as Int) })
  }
}

/// The protos' messages and services, read from the committed descriptor set, and the hostile
/// requests built from them: nothing here names a message or a field, so a new RPC or field is
/// fuzzed without anyone adding it.
struct Schema {
  struct Method {
    var name: String
    var input: String
  }

  var messages: [String: Google_Protobuf_DescriptorProto] = [:]
  var services: [String: [Method]] = [:]

  init(protoset path: String) throws {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    for file in set.file {
      func add(_ message: Google_Protobuf_DescriptorProto, scope: String) {
        let name = "\(scope).\(message.name)"
        self.messages[name] = message
        for nested in message.nestedType { add(nested, scope: name) }
      }
      for message in file.messageType { add(message, scope: ".\(file.package)") }
      guard file.package == "fixpoint.v1" else { continue }
      for service in file.service {
        self.services["\(file.package).\(service.name)"] = service.method.map { Method(name: $0.name, input: $0.inputType) }
      }
    }
  }

  struct Case {
    var name: String
    var bytes: [UInt8]
  }

  /// What one RPC gets: bytes that cannot decode, random and truncated bytes, the empty message,
  /// and messages whose every field holds one kind of hostile value or a mix of them.
  func cases(for input: String, random: inout SplitMix64) -> [Case] {
    var cases: [Case] = [
      Case(name: "empty", bytes: []),
      // Field number 0 with wire type 7: never a protobuf message.
      Case(name: "garbage", bytes: [0x07] + Self.randomBytes(Int.random(in: 0...200, using: &random), &random)),
      Case(name: "random", bytes: Self.randomBytes(Int.random(in: 1...300, using: &random), &random)),
    ]
    for kind in Hostile.allCases {
      var encoder = Encoder(schema: self, kind: kind)
      cases.append(Case(name: "\(kind)", bytes: encoder.message(input, depth: 0, random: &random)))
    }
    var encoder = Encoder(schema: self, kind: .mixed)
    let mixed = encoder.message(input, depth: 0, random: &random)
    cases.append(Case(name: "truncated", bytes: Array(mixed.prefix(max(1, mixed.count * 2 / 3)))))
    return cases
  }

  static func randomBytes(_ n: Int, _ random: inout SplitMix64) -> [UInt8] {
    (0..<n).map { _ in UInt8.random(in: 0...255, using: &random) }
  }

  /// The kinds of value a case puts in every field.
  enum Hostile: CaseIterable {
    case long, nul, injection, valid, extreme, wide, deep, mixed
  }

  /// Writes protobuf wire format for any message of the schema, with values of one kind.
  struct Encoder {
    let schema: Schema
    let kind: Hostile
    /// Bytes written so far across the whole message: a case stays under 8 MiB.
    var budget = 8 << 20

    static let prefixes = ["cli", "prv", "res", "chn", "act", "job", "asm", "alr", "snp", "dlv", "dft", "wvr", "sub", "fnd", "evt", "bsl", "rst", "iac"]

    mutating func string(_ random: inout SplitMix64) -> [UInt8] {
      let kind = self.kind == .mixed ? [Hostile.long, .nul, .injection, .valid].randomElement(using: &random)! : self.kind
      switch kind {
      case .long: return Array(String(repeating: "ä", count: 40_000).utf8)
      case .nul: return Array(["evt_\u{0}x", "\u{0}", "a\u{0}b", "\r\nX-Injected: 1"].randomElement(using: &random)!.utf8)
      case .injection:
        let values = ["' OR 1=1 --", "\"; DROP TABLE alert; --", "../../../../etc/passwd", "%s%n%x%00", "\u{202E}gnp.exe", "*", "$(reboot)",
                      "{{7*7}}", "<script>", "act_' OR '1'='1", "prv_../../x", "http://169.254.169.254/latest/meta-data/"]
        if Bool.random(using: &random) { return [0xC3, 0x28, 0xFF, 0xFE] }  // not UTF-8
        return Array(values.randomElement(using: &random)!.utf8)
      default:
        let suffix = String((0..<20).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &random)! })
        return Array("\(Self.prefixes.randomElement(using: &random)!)_\(suffix)".utf8)
      }
    }

    func integer(_ random: inout SplitMix64) -> UInt64 {
      switch self.kind {
      case .extreme, .mixed:
        return [UInt64(bitPattern: Int64.min), UInt64(bitPattern: -1), UInt64(Int32.max), UInt64(bitPattern: Int64(Int32.min)),
                UInt64.max, 0, 1 << 62].randomElement(using: &random)!
      default: return UInt64.random(in: 0...100, using: &random)
      }
    }

    mutating func message(_ name: String, depth: Int, random: inout SplitMix64) -> [UInt8] {
      // Nested deeper than the decoder's 100 levels (refused before a handler runs), or within
      // them (a handler gets it whole).
      if name == ".google.protobuf.Value" && self.kind == .deep { return self.deepValue(depth: 45) }
      if name == ".google.protobuf.Value" && self.kind == .mixed && Bool.random(using: &random) { return self.deepValue(depth: 150) }
      guard let descriptor = self.schema.messages[name], depth < 5 else { return [] }
      var out: [UInt8] = []
      for field in descriptor.field {
        let repeated = field.label == .repeated
        let times = repeated ? (self.kind == .wide ? 3_000 : Int.random(in: 1...2, using: &random)) : 1
        for _ in 0..<times where self.budget > 0 {
          let encoded = self.field(field, depth: depth, random: &random)
          self.budget -= encoded.count
          out += encoded
        }
      }
      return out
    }

    mutating func field(_ field: Google_Protobuf_FieldDescriptorProto, depth: Int, random: inout SplitMix64) -> [UInt8] {
      let number = UInt64(field.number)
      func tag(_ wire: UInt64) -> [UInt8] { Self.varint(number << 3 | wire) }
      switch field.type {
      case .string: return tag(2) + Self.lengthDelimited(self.string(&random))
      case .bytes:
        let n = self.kind == .long ? 1 << 20 : Int.random(in: 0...64, using: &random)
        return tag(2) + Self.lengthDelimited(Schema.randomBytes(n, &random))
      case .message, .group:
        if field.typeName == ".google.protobuf.Timestamp" {
          return tag(2) + Self.lengthDelimited(Self.varint(1 << 3) + Self.varint(self.integer(&random)) + Self.varint(2 << 3) + Self.varint(self.integer(&random)))
        }
        return tag(2) + Self.lengthDelimited(self.message(field.typeName, depth: depth + 1, random: &random))
      case .enum:
        let values: [Int64] = self.kind == .valid ? [0, 1, 2] : [9_999, -5, Int64(Int32.min), 1]
        return tag(0) + Self.varint(UInt64(bitPattern: values.randomElement(using: &random)!))
      case .bool: return tag(0) + Self.varint(self.kind == .extreme ? 2 : UInt64.random(in: 0...1, using: &random))
      case .double: return tag(1) + Self.littleEndian([Double.nan, .infinity, -.infinity, 1e308, -0.0, 3.5].randomElement(using: &random)!.bitPattern, 8)
      case .float: return tag(5) + Self.littleEndian(UInt64([Float.nan, .infinity, -1e38, 0.5].randomElement(using: &random)!.bitPattern), 4)
      case .fixed64, .sfixed64: return tag(1) + Self.littleEndian(self.integer(&random), 8)
      case .fixed32, .sfixed32: return tag(5) + Self.littleEndian(self.integer(&random) & 0xFFFF_FFFF, 4)
      default: return tag(0) + Self.varint(self.integer(&random))  // int32/64, uint32/64, sint32/64
      }
    }

    /// A `google.protobuf.Value` that is a list holding a list … `depth` times.
    func deepValue(depth: Int) -> [UInt8] {
      var value: [UInt8] = Self.varint(3 << 3 | 2) + Self.lengthDelimited(Array("leaf".utf8))  // string_value
      for _ in 0..<depth {
        let list = Self.varint(1 << 3 | 2) + Self.lengthDelimited(value)  // ListValue.values
        value = Self.varint(6 << 3 | 2) + Self.lengthDelimited(list)  // Value.list_value
      }
      return value
    }

    static func varint(_ value: UInt64) -> [UInt8] {
      var v = value
      var out: [UInt8] = []
      while v >= 0x80 {
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
      }
      out.append(UInt8(v))
      return out
    }

    static func lengthDelimited(_ bytes: [UInt8]) -> [UInt8] { self.varint(UInt64(bytes.count)) + bytes }

    static func littleEndian(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
  }
}
