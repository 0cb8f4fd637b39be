import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import Testing

@Suite("Store, outbox and inbox")
struct StoreAndEventsTests {
  static func tempPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("fp-store-\(UUID())/test.sqlite").path
  }

  static let v1 = Store.Migration("test.1-things") { db in
    try db.execute(sql: "CREATE TABLE thing (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")
  }
  static let v2 = Store.Migration("test.2-thing-label") { db in
    try db.execute(sql: "ALTER TABLE thing ADD COLUMN label TEXT NOT NULL DEFAULT ''")
  }

  @Test("services reach SQLite only through Store.read and Store.write (async, Sendable results), never GRDB's synchronous calls")
  func noSynchronousDatabaseCalls() async throws {
    // A synchronous GRDB read on the cooperative pool waits for a reader that an async read holds
    // until its task can run again on that same pool: with every thread so blocked, the service
    // stops (inventory did, health included). Swift picks the synchronous overload silently when a
    // closure returns a Row, even under `await`; `Store.read` and `Store.write` have no such overload.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let sources = root.appendingPathComponent("Sources")
    var offenders: [String] = []
    for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)! where file.pathExtension == "swift" {
      let relative = file.path.replacingOccurrences(of: root.path + "/", with: "")
      guard relative != "Sources/FixpointCore/Store.swift" else { continue }
      for (n, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      where line.contains(".pool.") && !line.contains(".pool.add(transactionObserver:") {
        offenders.append("\(relative):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
      }
    }
    #expect(offenders.isEmpty, "use store.read / store.write:\n\(offenders.joined(separator: "\n"))")
    // And the seam itself: many more concurrent reads than reader connections all complete.
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    let counted = try await withThrowingTaskGroup(of: Int.self) { group in
      for _ in 0..<200 { group.addTask { try await store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM thing") ?? -1 } } }
      return try await group.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
    }
    #expect(counted == 200)
  }

  @Test("migrations create an empty file in WAL mode and upgrade an existing one, keeping its rows; an older version refuses a newer file")
  func migrations() throws {
    let path = Self.tempPath()
    do {
      let store = try Store(path: path, migrations: [Self.v1])
      #expect(try store.appliedMigrations() == ["runtime.1-outbox-inbox", "runtime.2-request-log", "test.1-things"])
      try store.pool.write { try $0.execute(sql: "INSERT INTO thing (id, n) VALUES ('a', 1)") }
      #expect(try store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }
    let upgraded = try Store(path: path, migrations: [Self.v1, Self.v2])
    #expect(try upgraded.appliedMigrations() == ["runtime.1-outbox-inbox", "runtime.2-request-log", "test.1-things", "test.2-thing-label"])
    let row = try upgraded.pool.read { try Row.fetchOne($0, sql: "SELECT n, label FROM thing WHERE id = 'a'") }
    #expect(row?["n"] == 1)
    #expect(row?["label"] == "")
    // Opening again applies nothing twice.
    #expect(try Store(path: path, migrations: [Self.v1, Self.v2]).appliedMigrations().count == 4)
    // An older version (one that knows only v1) refuses the file rather than run on it.
    #expect(throws: ServiceError.self) { try Store(path: path, migrations: [Self.v1]) }
  }

  @Test("an event is queued for every downstream service in the caller's transaction, or not at all")
  func outboxIsTransactional() throws {
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    let outbox = Outbox(source: .inventory)
    let event = outbox.makeEvent(type: "resource.changed", subject: "res_1", severity: .info)
    try store.pool.write { db in
      try db.execute(sql: "INSERT INTO thing (id, n) VALUES ('a', 1)")
      try outbox.enqueue(event, in: db)
    }
    struct Boom: Error {}
    #expect(throws: Boom.self) {
      try store.pool.write { db in
        try outbox.enqueue(outbox.makeEvent(type: "resource.changed", subject: "res_2", severity: .info), in: db)
        throw Boom()
      }
    }
    let rows = try store.pool.read { try Row.fetchAll($0, sql: "SELECT event_id, destination FROM outbox ORDER BY destination") }
    #expect(rows.map { $0["destination"] as String } == ["compliance", "drift", "notifier"])
    #expect(Set(rows.map { $0["event_id"] as String }) == [event.id])
    #expect(try store.pool.read { try Outbox.backlog(in: $0) } == ["compliance": 1, "drift": 1, "notifier": 1])
  }

  @Test("a repeated event is acknowledged as a duplicate and has no second effect")
  func inboxDeduplicates() async throws {
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    let sink = EventSinkService(store: store) { event, db in
      try db.execute(sql: "INSERT INTO thing (id, n) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1", arguments: [event.subject])
    }
    let event = Outbox(source: .dispatcher).makeEvent(type: "finding.submitted", subject: "fnd_1", severity: .high)
    let first = try await Self.deliver(sink, [event])
    let second = try await Self.deliver(sink, [event, event])
    #expect(first.acceptedIds == [event.id])
    #expect(second.acceptedIds.isEmpty)
    #expect(second.duplicateIds == [event.id, event.id])
    #expect(try await store.pool.read { try Int.fetchOne($0, sql: "SELECT n FROM thing WHERE id = 'fnd_1'") } == 1)
    #expect(try await store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM inbox") } == 1)
  }

  @Test("an effect that fails records nothing, so the event can be delivered again")
  func failedEffectIsNotRecorded() async throws {
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    struct Boom: Error {}
    let failing = EventSinkService(store: store) { _, _ in throw Boom() }
    let event = Outbox(source: .dispatcher).makeEvent(type: "finding.submitted", subject: "fnd_2", severity: .high)
    await #expect(throws: Boom.self) { _ = try await Self.deliver(failing, [event]) }
    #expect(try await store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM inbox") } == 0)
  }

  @Test("malformed events are rejected by position and nothing of them is recorded; valid ones beside them apply")
  func invalidEvents() async throws {
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    let sink = EventSinkService(store: store) { _, _ in }
    var noID = Fixpoint_V1_Event()
    noID.type = "x"
    noID.source = "y"
    let good = Outbox(source: .dispatcher).makeEvent(type: "finding.submitted", subject: "fnd_1", severity: .high)
    var badType = good
    badType.id = "evt_other"
    badType.type = "x"
    // Over 256 KiB in a payload field that no other rule limits: the size bound catches it.
    var big = good
    big.id = "evt_big"
    big.complianceViolation.reason = String(repeating: "y", count: 300 << 10)
    let answer = try await Self.deliver(sink, [noID, good, badType, big])
    #expect(answer.rejected.map(\.index) == [0, 2, 3] && answer.acceptedIds == [good.id], "\(answer)")
    #expect(answer.rejected.last?.reason.contains("over 262144 bytes") == true, "\(answer.rejected.last?.reason ?? "")")
    #expect(try await store.pool.read { try String.fetchAll($0, sql: "SELECT event_id FROM inbox") } == [good.id])
  }

  @Test("the shape walk's size bound is never below the serialized size: strings, nested messages, maps of strings, enums and integers, repeated fields")
  func sizeBound() throws {
    var event = Outbox(source: .compliance).makeEvent(type: "compliance.violation", subject: "res_1", severity: .critical)
    event.complianceViolation.resource.tags = ["env": "prod", "owner": "é✓🚀", "": ""]
    event.complianceViolation.reason = String(repeating: "r", count: 70_000)
    var drift = Outbox(source: .drift).makeEvent(type: "drift.detected", subject: "res_2", severity: .low)
    drift.driftDetected.paths = (0..<300).map { "path.\($0)" }
    for message in [event, drift, Fixpoint_V1_Event()] {
      let exact = try message.serializedBytes() as [UInt8]
      #expect(try RequestShape.check(message) >= exact.count)
    }
    // Maps of enums, of integers and of messages, nested: still bounded, never overflowing.
    let policy = Fixpoint_V1_UpdatePolicyRequest.with {
      $0.policy.handlerOverrides = Dictionary(uniqueKeysWithValues: (0..<50).map { ("handler-\($0)", Fixpoint_V1_Policy.Override.always) })
      $0.updateMask = ["handler_overrides"]
    }
    let metrics = Fixpoint_V1_RemediationMetrics.with {
      $0.recurrenceByControl = Dictionary(uniqueKeysWithValues: (0..<50).map { ("S3.\($0)", Int64(-$0)) })
    }
    #expect(try RequestShape.check(policy) >= (try policy.serializedBytes() as [UInt8]).count)
    #expect(try RequestShape.check(metrics) >= (try metrics.serializedBytes() as [UInt8]).count)
  }

  @Test("a retried mutation with the same request id has one effect and the first answer; a different request is refused")
  func requestLog() async throws {
    let store = try Store(path: Self.tempPath(), migrations: [Self.v1])
    let first = Fixpoint_V1_CreateAlertRequest.with { $0.title = "one"; $0.requestID = "req-1" }
    @Sendable func create(_ request: Fixpoint_V1_CreateAlertRequest) async throws -> Fixpoint_V1_Alert {
      try await RequestLog.once(store, method: "CreateAlert", request: request, requestID: request.requestID) { db in
        let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM thing")! + 1
        try db.execute(sql: "INSERT INTO thing (id, n) VALUES (?, ?)", arguments: ["t\(n)", n])
        return .with { $0.id = "t\(n)"; $0.title = request.title }
      }
    }
    let a = try await create(first)
    let retried = try await create(first)
    #expect(retried == a)
    #expect(try await store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM thing") } == 1)
    var other = first
    other.title = "two"
    await #expect(throws: ServiceError.invalidArgument(field: "request_id", reason: "was already used for a different CreateAlert request")) {
      _ = try await create(other)
    }
    // Without a request id every call acts.
    _ = try await create(.with { $0.title = "x" })
    _ = try await create(.with { $0.title = "x" })
    #expect(try await store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM thing") } == 3)
  }

  static func deliver(_ sink: EventSinkService, _ events: [Fixpoint_V1_Event]) async throws -> Fixpoint_V1_DeliverEventsResponse {
    try await withServerContextRPCCancellationHandle { handle in
      let context = ServerContext(
        descriptor: Fixpoint_V1_EventSink.Method.DeliverEvents.descriptor, remotePeer: "t", localPeer: "t", cancellation: handle)
      return try await sink.deliverEvents(request: .with { $0.events = events }, context: context)
    }
  }
}

@Suite("Paging and validation")
struct PagingTests {
  @Test("random ids are lowercase hex of the asked length and do not repeat")
  func randomIDs() {
    let ids = (0..<2000).map { _ in RandomID.make(37) }
    #expect(ids.allSatisfy { $0.count == 37 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
    #expect(Set(ids).count == ids.count)
    #expect(Set(ids.flatMap { $0 }).count == 16, "every hex digit appears")
    #expect(RandomID.make(prefix: "alr").hasPrefix("alr_"))
  }

  @Test("ids sort by the millisecond they were made in, and one millisecond's ids still differ")
  func timeOrderedIDs() {
    let start = Date(timeIntervalSince1970: 1_796_000_000.123)
    let ids = (0..<3000).map { RandomID.make(prefix: "dlv", now: start.addingTimeInterval((Double($0 / 3) + 0.5) / 1000)) }
    #expect(ids.allSatisfy { $0.count == 4 + 24 && $0.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) } })
    #expect(ids[0].dropFirst(4).prefix(12) == "01a229f1287b", "the time in milliseconds, 12 hex digits: \(ids[0])")
    for i in stride(from: 3, to: ids.count, by: 3) { #expect(ids[i - 1].prefix(16) < ids[i].prefix(16)) }
    #expect(Set(ids).count == ids.count)
    #expect(RandomID.make(prefix: "x", now: Date(timeIntervalSince1970: -5)).hasPrefix("x_000000000000"))
    let late = RandomID.make(prefix: "x", now: Date(timeIntervalSince1970: 8029 * 365.25 * 86400))  // the year 9999
    #expect(late.count == 26 && late > RandomID.make(prefix: "x"), "fits, in order, until past the year 9999")
  }

  @Test("page tokens round-trip and foreign tokens are refused")
  func paging() throws {
    let page = try Page(size: 10, token: "")
    let next = try Page(size: 10, token: page.nextToken(returned: 10))
    #expect(next.offset == 10)
    #expect(page.nextToken(returned: 3) == "")
    #expect(try Page(size: 0, token: "").size == Page.defaultSize)
    #expect(try Page(size: 5000, token: "").size == Page.maxSize)
    #expect(throws: ServiceError.invalidArgument(field: "page_token", reason: "not a token this service issued")) {
      try Page(size: 10, token: "garbage!")
    }
    #expect(throws: ServiceError.self) { try Page(size: -1, token: "") }
  }

  @Test("a page is cut at its byte budget (never below one item) and its token continues after the last item kept")
  func pagingBytes() throws {
    let items = (0..<10).map { i in Fixpoint_V1_Alert.with { $0.id = "alt_\(i)"; $0.body = String(repeating: "b", count: 1000) } }
    let page = try Page(size: 10, token: "o:20".data(using: .utf8)!.base64EncodedString())
    let (kept, token) = page.fit(items, maxBytes: 3500)
    #expect(kept.map(\.id) == ["alt_0", "alt_1", "alt_2"])
    #expect(try Page(size: 10, token: token).offset == 23)
    #expect(page.fit(items, maxBytes: 10).0.count == 1, "one item even over the budget")
    let (all, last) = page.fit(Array(items.prefix(4)))
    #expect(all.count == 4 && last == "", "a short page that fits is the last one")
  }
}
