import Synchronization

/// At most `limit` holders per key, for async work: `run(key, limit:)` waits while `limit` tasks
/// hold the same key, then runs; other keys are not held up. Waiters are served in arrival order.
/// With the default limit of 1 it is a lock per key.
public final class KeyedSemaphore: Sendable {
  private struct Slots {
    var held = 0
    var queue: [CheckedContinuation<Void, Never>] = []
  }

  private let slots = Mutex<[String: Slots]>([:])

  public init() {}

  public func run<T: Sendable>(_ key: String, limit: Int = 1, _ body: () async throws -> T) async throws -> T {
    await self.acquire(key, limit: max(1, limit))
    defer { self.release(key) }
    return try await body()
  }

  private func acquire(_ key: String, limit: Int) async {
    await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
      let free = self.slots.withLock { s -> Bool in
        var slot = s[key] ?? Slots()
        defer { s[key] = slot }
        guard slot.held >= limit else { slot.held += 1; return true }
        slot.queue.append(waiter)
        return false
      }
      if free { waiter.resume() }
    }
  }

  private func release(_ key: String) {
    let next = self.slots.withLock { s -> CheckedContinuation<Void, Never>? in
      guard var slot = s[key] else { return nil }
      if slot.queue.isEmpty {
        slot.held -= 1
        s[key] = slot.held == 0 ? nil : slot
        return nil
      }
      let first = slot.queue.removeFirst()  // the slot stays held, handed to the next waiter
      s[key] = slot
      return first
    }
    next?.resume()
  }
}
