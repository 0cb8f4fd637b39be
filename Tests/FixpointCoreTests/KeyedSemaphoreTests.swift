import FixpointCore
import Synchronization
import Testing

@Suite("KeyedSemaphore: at most the limit per key")
struct KeyedSemaphoreTests {
  /// Holders at once, per key, and the most ever seen.
  final class Gauge: Sendable {
    private let counts = Mutex<[String: (now: Int, most: Int, entered: Int)]>([:])
    func enter(_ key: String) { self.counts.withLock { c in let v = c[key] ?? (0, 0, 0); c[key] = (v.now + 1, max(v.most, v.now + 1), v.entered + 1) } }
    func leave(_ key: String) { self.counts.withLock { $0[key]!.now -= 1 } }
    func most(_ key: String) -> Int { self.counts.withLock { $0[key]?.most ?? 0 } }
    func entered(_ key: String) -> Int { self.counts.withLock { $0[key]?.entered ?? 0 } }
  }

  @Test("40 tasks on two keys with limits 3 and 1: each key reaches its limit and never passes it; all run")
  func limits() async throws {
    let semaphore = KeyedSemaphore()
    let gauge = Gauge()
    await withThrowingTaskGroup(of: Void.self) { group in
      for i in 0..<40 {
        let (key, limit) = i.isMultiple(of: 2) ? ("writes", 3) : ("lock", 1)
        group.addTask {
          try await semaphore.run(key, limit: limit) {
            gauge.enter(key)
            try await Task.sleep(for: .milliseconds(5))
            gauge.leave(key)
          }
        }
      }
    }
    #expect(gauge.entered("writes") + gauge.entered("lock") == 40)
    #expect(gauge.most("writes") == 3)
    #expect(gauge.most("lock") == 1)
  }

  @Test("a body that throws gives its turn back")
  func throwing() async throws {
    struct Boom: Error {}
    let semaphore = KeyedSemaphore()
    await #expect(throws: Boom.self) { try await semaphore.run("k") { throw Boom() } }
    #expect(try await semaphore.run("k") { 7 } == 7)
  }
}
