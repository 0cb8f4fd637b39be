import Synchronization

/// Mutual exclusion per key, for async work: `run(key)` waits while another task holds the same
/// key, then runs; other keys are not held up. Waiters are served in arrival order.
public final class KeyedLock: Sendable {
  private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

  public init() {}

  public func run<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
    await self.acquire(key)
    defer { self.release(key) }
    return try await body()
  }

  private func acquire(_ key: String) async {
    await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
      let free = self.waiting.withLock { w -> Bool in
        guard w[key] != nil else { w[key] = []; return true }  // held from now, nobody queued
        w[key]!.append(waiter)
        return false
      }
      if free { waiter.resume() }
    }
  }

  private func release(_ key: String) {
    let next = self.waiting.withLock { w -> CheckedContinuation<Void, Never>? in
      guard let queue = w[key], let first = queue.first else { w[key] = nil; return nil }
      w[key] = Array(queue.dropFirst())  // stays held, handed to the next waiter
      return first
    }
    next?.resume()
  }
}
