import Foundation
import Synchronization

/// Loopback ports for the processes a test starts (service clusters, moto servers, proxies).
///
/// Each range is walked in blocks from an offset that depends on the process id (two test runs on
/// one machine rarely meet), never hands a block out twice in one process, and skips a block when
/// any of its ports cannot be bound now. A counter that wrapped after a few blocks once gave a new
/// cluster the ports of one still running in a parallel suite: the health check answered from
/// the old cluster, which then stopped, and the new test met "connection refused".
public enum LoopbackPorts {
  private static let next = Mutex<[Int: Int]>([:])

  /// The first port of `width` consecutive free ports in `range`.
  public static func block(width: Int, in range: Range<Int>) throws -> Int {
    let blocks = range.count / width
    precondition(blocks > 0 && range.upperBound <= 32_768)
    return try Self.next.withLock { next in
      let start = next[range.lowerBound] ?? Int(getpid()) % blocks
      for step in 0..<blocks {
        let base = range.lowerBound + ((start + step) % blocks) * width
        guard (base..<(base + width)).allSatisfy(Self.canBind) else { continue }
        next[range.lowerBound] = start + step + 1
        return base
      }
      throw TestSupportError("no \(width) free loopback ports left in \(range)")
    }
  }

  /// Whether a listener could bind 127.0.0.1:`port` now (with SO_REUSEADDR, as the servers do).
  public static func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
  }
}
