import Foundation
public import GRDB

/// A service's own SQLite store: one file, WAL, versioned migrations run at start.
///
/// Every store has the runtime's tables (`outbox`, `inbox`); a service adds its own migrations,
/// named `"<service>.<n>-<what>"`, which run once each, in order, inside a transaction.
public struct Store: Sendable {
  /// The connection pool, for the store's own start-up and for tests. Services go through `read`
  /// and `write`: see there.
  public let pool: DatabasePool
  public let path: String

  /// A read transaction, off the caller's thread. Only async, and only for a `Sendable` result:
  /// GRDB also has synchronous `read`s, which Swift picks without a word when the closure returns
  /// something not `Sendable` (a `Row`), `await` or not. A synchronous read blocks its thread
  /// until a reader connection is free; an async read gives its reader back only when its task
  /// runs again, on the same cooperative pool (two threads on two cores). Two synchronous reads at
  /// once blocked both threads while every reader waited for one of them: inventory stopped
  /// answering, health included (bench-loop, N = 200).
  public func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
    try await self.pool.read(body)
  }

  /// A write transaction, off the caller's thread; only async, for the reason `read` gives.
  public func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
    try await self.pool.write(body)
  }

  /// A read for a service's assembly, before anything else runs (so no reader can be held by a
  /// task waiting for a thread): synchronous, unlike `read`.
  public func readAtStartup<T>(_ body: (Database) throws -> T) throws -> T {
    try self.pool.read(body)
  }

  /// Opens (creating if needed) the file at `path` and runs every pending migration.
  public init(path: String, migrations: [Migration]) throws {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    var config = Configuration()
    config.busyMode = .timeout(10)
    config.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = NORMAL")
      try db.execute(sql: "PRAGMA foreign_keys = ON")
    }
    self.pool = try DatabasePool(path: path, configuration: config)
    self.path = path
    var migrator = DatabaseMigrator()
    for migration in Self.runtimeMigrations + migrations {
      migrator.registerMigration(migration.name, migrate: migration.apply)
    }
    // A file a newer version wrote (a downgrade, or a backup of a newer store): refuse rather than
    // run on a schema this code does not know.
    let known = Set((Self.runtimeMigrations + migrations).map(\.name))
    let unknown = try self.pool.read { db -> [String] in
      guard try db.tableExists("grdb_migrations") else { return [] }
      return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid").filter { !known.contains($0) }
    }
    guard unknown.isEmpty else {
      throw ServiceError.failedPrecondition(
        "\(path) was written by a newer Fixpoint (migrations \(unknown.joined(separator: ", ")) are unknown here); run that version or restore an older backup")
    }
    try migrator.migrate(self.pool)
  }

  /// The names of the migrations applied to this file, in order.
  public func appliedMigrations() throws -> [String] {
    try self.pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
  }

  /// One schema step.
  public struct Migration: Sendable {
    public var name: String
    public var apply: @Sendable (Database) throws -> Void
    public init(_ name: String, apply: @escaping @Sendable (Database) throws -> Void) {
      self.name = name
      self.apply = apply
    }
  }

  /// The runtime's own tables, present in every store.
  static let runtimeMigrations: [Migration] = [
    Migration("runtime.1-outbox-inbox") { db in
      try db.execute(sql: """
        CREATE TABLE outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          event_id TEXT NOT NULL,
          destination TEXT NOT NULL,
          event_type TEXT NOT NULL,
          payload BLOB NOT NULL,
          created_at REAL NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at REAL NOT NULL DEFAULT 0,
          last_error TEXT,
          delivered_at REAL,
          UNIQUE (event_id, destination)
        );
        CREATE INDEX outbox_pending ON outbox (destination, delivered_at, seq);
        CREATE TABLE inbox (
          event_id TEXT PRIMARY KEY,
          event_type TEXT NOT NULL,
          source TEXT NOT NULL,
          received_at REAL NOT NULL
        );
        """)
    },
    Migration("runtime.2-request-log") { db in
      try db.execute(sql: """
        CREATE TABLE request_log (
          method TEXT NOT NULL,
          request_id TEXT NOT NULL,
          request_hash BLOB NOT NULL,
          response BLOB NOT NULL,
          created_at REAL NOT NULL,
          PRIMARY KEY (method, request_id)
        );
        """)
    },
  ]
}

extension FetchableRecord {
  /// The row `sql` selects, from a statement compiled once per connection and reused: for the
  /// hot point reads behind Get RPCs, which otherwise pay for SQL parsing on every call.
  public static func fetchOne(_ db: Database, cachedSQL sql: String, arguments: StatementArguments) throws -> Self? {
    try Self.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
  }
}
