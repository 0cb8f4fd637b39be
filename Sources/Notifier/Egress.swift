#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import NIOPosix

/// An IPv4 or IPv6 address as bytes (4 or 16).
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
  let bytes: [UInt8]

  /// Strict parsing (`inet_pton`): dotted-quad IPv4 or IPv6; no octal, hex, dword or short forms.
  init?(_ text: String) {
    var v4 = in_addr()
    var v6 = in6_addr()
    if text.contains(":") {
      guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
      self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
    } else {
      guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
      self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
    }
  }

  init(bytes: [UInt8]) { self.bytes = bytes }

  var isV4: Bool { self.bytes.count == 4 }

  /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for.
  var unmapped: IPAddress {
    if self.bytes.count == 16, self.bytes[0..<10].allSatisfy({ $0 == 0 }), self.bytes[10] == 0xff, self.bytes[11] == 0xff {
      return IPAddress(bytes: Array(self.bytes[12...]))
    }
    return self
  }

  var description: String {
    if self.isV4 { return self.bytes.map(String.init).joined(separator: ".") }
    var copy = in6_addr()
    withUnsafeMutableBytes(of: &copy) { $0.copyBytes(from: self.bytes) }
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    _ = inet_ntop(AF_INET6, &copy, &buffer, socklen_t(buffer.count))
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// A CIDR range, `10.0.0.0/8` or `fc00::/7`.
struct CIDR: Sendable, Hashable, CustomStringConvertible {
  let base: IPAddress
  let bits: Int

  init?(_ text: String) {
    let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
    guard let address = IPAddress(parts[0]) else { return nil }
    let width = address.bytes.count * 8
    let bits = parts.count == 2 ? Int(parts[1]) : width
    guard let bits, (0...width).contains(bits) else { return nil }
    self.base = address
    self.bits = bits
  }

  func contains(_ address: IPAddress) -> Bool {
    guard address.bytes.count == self.base.bytes.count else { return false }
    var left = self.bits
    for i in 0..<address.bytes.count where left > 0 {
      let take = min(8, left)
      let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
      if address.bytes[i] & mask != self.base.bytes[i] & mask { return false }
      left -= take
    }
    return true
  }

  var description: String { "\(self.base)/\(self.bits)" }
}

/// Where the notifier may send: every global unicast address, never loopback, private,
/// link-local (the 169.254.169.254 metadata service), CGNAT, multicast, reserved or IPv6 forms
/// that embed IPv4, unless an allowed range (`notifier.egress.allow`) contains it; allowed ranges
/// win over every denial, as in Stripe's smokescreen.
struct EgressPolicy: Sendable {
  var allow: [CIDR]

  static let denied: [CIDR] = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7",
    "fe80::/10", "fec0::/10", "ff00::/8",
  ].map { CIDR($0)! }

  /// Parses the comma-separated allow-list.
  init(allow text: String) throws(EgressError) {
    var ranges: [CIDR] = []
    for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
      guard let range = CIDR(entry) else { throw EgressError.badRange(entry) }
      ranges.append(range)
    }
    self.allow = ranges
  }

  /// Why `address` is refused, or nil when it may be dialled.
  func refusal(_ address: IPAddress) -> String? {
    let checked = address.unmapped
    if self.allow.contains(where: { $0.contains(checked) || $0.contains(address) }) { return nil }
    if let range = Self.denied.first(where: { $0.contains(checked) }) {
      return "\(address) is in \(range), a non-global range (allow it with notifier.egress.allow)"
    }
    return nil
  }

  /// Whether `address` is in the allow-list (plain http is accepted only there).
  func allowListed(_ address: IPAddress) -> Bool { self.allow.contains { $0.contains(address.unmapped) } }

  /// Resolves `host` once and checks every address it has: one refused address refuses the
  /// name, so a name that mixes public and private answers cannot be used to reach the latter.
  /// Returns the addresses to dial.
  func resolve(_ host: String, port: Int) async throws(EgressError) -> [IPAddress] {
    let addresses: [IPAddress]
    if let literal = IPAddress(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) {
      addresses = [literal]
    } else {
      guard Self.isHostName(host) else { throw EgressError.badHost(host) }
      do { addresses = try await Self.lookup(host) } catch { throw EgressError.unresolved(host) }
      guard !addresses.isEmpty else { throw EgressError.unresolved(host) }
    }
    for address in addresses {
      if let why = self.refusal(address) { throw EgressError.refused(host: host, reason: why) }
    }
    return addresses
  }

  static func isHostName(_ host: String) -> Bool {
    guard !host.isEmpty, host.count <= 253 else { return false }
    return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
      !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
        && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
  }

  /// getaddrinfo on NIO's blocking-I/O pool.
  static func lookup(_ host: String) async throws -> [IPAddress] {
    try await NIOThreadPool.singleton.runIfActive {
      var hints = addrinfo()
      hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
      var result: UnsafeMutablePointer<addrinfo>?
      let status = getaddrinfo(host, nil, &hints, &result)
      guard status == 0, let first = result else { throw EgressError.unresolved(host) }
      defer { freeaddrinfo(first) }
      var found: [IPAddress] = []
      var cursor: UnsafeMutablePointer<addrinfo>? = first
      while let entry = cursor {
        if let sa = entry.pointee.ai_addr {
          if entry.pointee.ai_family == AF_INET {
            var v4 = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            found.append(IPAddress(bytes: withUnsafeBytes(of: &v4) { Array($0) }))
          } else if entry.pointee.ai_family == AF_INET6 {
            var v6 = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            found.append(IPAddress(bytes: withUnsafeBytes(of: &v6) { Array($0) }))
          }
        }
        cursor = entry.pointee.ai_next
      }
      var unique: [IPAddress] = []
      for address in found where !unique.contains(address) { unique.append(address) }
      return unique
    }
  }
}

/// Why a destination cannot be used.
enum EgressError: Error, Equatable, CustomStringConvertible {
  case badRange(String)
  case badHost(String)
  case unresolved(String)
  case refused(host: String, reason: String)

  var description: String {
    switch self {
    case .badRange(let text): "'\(text.prefix(64))' is not a CIDR range"
    case .badHost(let host): "'\(host.prefix(64))' is not a host name or IP address"
    case .unresolved(let host): "\(host.prefix(253)) does not resolve"
    case .refused(let host, let reason): "\(host.prefix(253)) refused: \(reason)"
    }
  }
}
