/// Runs work against a limit of time: the work is cancelled and `Deadline.Exceeded` thrown when
/// the limit passes first.
public enum Deadline {
  public struct Exceeded: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "timed out after \(self.limit)" }
  }

  public static func run<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
      group.addTask { try await body() }
      group.addTask {
        try await Task.sleep(for: limit)
        throw Exceeded(limit: limit)
      }
      defer { group.cancelAll() }
      return try await group.next()!
    }
  }
}
