public import Logging
import ServiceLifecycle

/// The loop every table-backed job queue runs in its service group (compliance's assessments,
/// drift's scans): first `recover` (jobs a crash left running are queued again), then the oldest
/// queued job, one at a time, until shutdown; `idle` runs each time the queue is empty, then the
/// loop waits 300 ms. A failure to read the queue is logged and retried, never fatal.
public enum JobQueue {
  public static func run<Job: Sendable>(
    _ what: String, logger: Logger,
    recover: @Sendable () async throws -> Void,
    next: @Sendable () async throws -> Job?,
    execute: @Sendable (Job) async -> Void,
    idle: @Sendable () async throws -> Void = {}
  ) async {
    try? await recover()
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        while let job = try await next() {
          await execute(job)
          if Task.isShuttingDownGracefully { return }
        }
        try await idle()
      } catch {
        logger.warning("reading the \(what) queue failed", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(300)) }
    }
  }
}
