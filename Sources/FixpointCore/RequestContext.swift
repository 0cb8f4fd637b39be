public import Foundation

/// Who is calling and under which request id, for the RPC being served. Set by the server
/// interceptors as a task local; read by handlers (`RequestContext.current`) and the logger.
public struct RequestContext: Sendable {
  /// The id that ties together logs across services (`x-request-id` metadata; generated if absent).
  public var requestID: String
  /// The authenticated caller; nil only for open RPCs (health).
  public var principal: Principal?

  public init(requestID: String, principal: Principal?) {
    self.requestID = requestID
    self.principal = principal
  }

  @TaskLocal public static var current: RequestContext?

  /// The metadata key that carries the request id.
  public static let metadataKey = "x-request-id"

  /// A new random request id.
  public static func newRequestID() -> String { "req_" + RandomID.make(16) }
}

/// Random identifiers such as `act_3f9c…`.
public enum RandomID {
  /// `count` random lowercase hex characters.
  public static func make(_ count: Int = 20) -> String {
    var generator = SystemRandomNumberGenerator()
    var bits: UInt64 = 0
    var nibblesLeft = 0
    var characters = [UInt8]()
    characters.reserveCapacity(count)
    for _ in 0..<count {
      if nibblesLeft == 0 {  // one draw from the system generator gives 16 characters
        bits = generator.next()
        nibblesLeft = 16
      }
      characters.append(Self.hexDigits[Int(bits & 0xf)])
      bits >>= 4
      nibblesLeft -= 1
    }
    return String(decoding: characters, as: UTF8.self)
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  /// An id with a type prefix, e.g. `RandomID.make(prefix: "evt")` → `evt_…`: 12 hex digits of
  /// the time in milliseconds (until the year 10889), then 12 random ones (48 bits). Ids made later sort later, so a new
  /// row lands at the right edge of every index on an id (its primary key, `event_id`,
  /// `delivery_id`…) instead of on a random page of it: a transaction dirties, journals and
  /// checkpoints a few pages instead of one per row per index.
  public static func make(prefix: String, now: Date = Date()) -> String {
    let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
    var time = [UInt8](repeating: 0, count: 12)
    var value = milliseconds
    for i in stride(from: 11, through: 0, by: -1) {
      time[i] = Self.hexDigits[Int(value & 0xf)]
      value >>= 4
    }
    return prefix + "_" + String(decoding: time, as: UTF8.self) + self.make(12)
  }
}
