/// A malformed JSON text: what, and where (a byte offset, and its line and column).
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
  public var reason: String
  public var offset: Int
  public var line: Int
  public var column: Int
  public var description: String { "\(self.reason) at line \(self.line), column \(self.column)" }
}

/// RFC 8259 JSON straight from bytes into `JSONValue`, in one pass. Foundation's decoders on Linux
/// read a 4 MB Terraform state in about a second (JSONDecoder through `JSONValue`'s Codable
/// conformance tries each type in turn at every value; JSONSerialization boxes every value); this
/// reads it about ten times faster. Nesting is limited (hostile input cannot exhaust the stack);
/// strings must be valid UTF-8; a duplicated object key keeps its last value.
struct JSONParser {
  static let maxDepth = 512

  static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
    var parser = JSONParser(bytes: bytes)
    parser.skipSpace()
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.at == bytes.count else { throw parser.error("unexpected content after the value") }
    return value
  }

  let bytes: UnsafeBufferPointer<UInt8>
  var at = 0

  func error(_ reason: String) -> JSONParseError {
    var line = 1
    var lineStart = 0
    for i in 0..<min(self.at, self.bytes.count) where self.bytes[i] == 0x0A {
      line += 1
      lineStart = i + 1
    }
    return JSONParseError(reason: reason, offset: self.at, line: line, column: self.at - lineStart + 1)
  }

  mutating func skipSpace() {
    while self.at < self.bytes.count {
      switch self.bytes[self.at] {
      case 0x20, 0x0A, 0x0D, 0x09: self.at += 1
      default: return
      }
    }
  }

  mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
    guard self.at < self.bytes.count else { throw self.error("unexpected end of the text") }
    switch self.bytes[self.at] {
    case UInt8(ascii: "{"):
      guard depth < Self.maxDepth else { throw self.error("nested deeper than \(Self.maxDepth)") }
      self.at += 1
      var object: [String: JSONValue] = [:]
      self.skipSpace()
      if self.peek(UInt8(ascii: "}")) { self.at += 1; return .object(object) }
      while true {
        self.skipSpace()
        guard self.peek(UInt8(ascii: "\"")) else { throw self.error("expected a string key") }
        let key = try self.string()
        self.skipSpace()
        guard self.peek(UInt8(ascii: ":")) else { throw self.error("expected ':'") }
        self.at += 1
        self.skipSpace()
        object[key] = try self.value(depth: depth + 1)
        self.skipSpace()
        if self.peek(UInt8(ascii: ",")) { self.at += 1; continue }
        if self.peek(UInt8(ascii: "}")) { self.at += 1; return .object(object) }
        throw self.error("expected ',' or '}'")
      }
    case UInt8(ascii: "["):
      guard depth < Self.maxDepth else { throw self.error("nested deeper than \(Self.maxDepth)") }
      self.at += 1
      var array: [JSONValue] = []
      self.skipSpace()
      if self.peek(UInt8(ascii: "]")) { self.at += 1; return .array(array) }
      while true {
        self.skipSpace()
        array.append(try self.value(depth: depth + 1))
        self.skipSpace()
        if self.peek(UInt8(ascii: ",")) { self.at += 1; continue }
        if self.peek(UInt8(ascii: "]")) { self.at += 1; return .array(array) }
        throw self.error("expected ',' or ']'")
      }
    case UInt8(ascii: "\""):
      return .string(try self.string())
    case UInt8(ascii: "t"):
      try self.literal("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try self.literal("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try self.literal("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return .number(try self.number())
    default:
      throw self.error("unexpected character")
    }
  }

  func peek(_ byte: UInt8) -> Bool { self.at < self.bytes.count && self.bytes[self.at] == byte }

  mutating func literal(_ word: StaticString) throws(JSONParseError) {
    let n = word.utf8CodeUnitCount
    guard self.at + n <= self.bytes.count else { throw self.error("unexpected end of the text") }
    for i in 0..<n where self.bytes[self.at + i] != word.utf8Start[i] { throw self.error("unexpected character") }
    self.at += n
  }

  mutating func number() throws(JSONParseError) -> Double {
    let start = self.at
    var integer = true
    if self.peek(UInt8(ascii: "-")) { self.at += 1 }
    func digits(_ p: inout JSONParser) -> Int {
      let s = p.at
      while p.at < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.at]) { p.at += 1 }
      return p.at - s
    }
    let whole = digits(&self)
    guard whole > 0 else { throw self.error("expected a digit") }
    if whole > 1 && self.bytes[self.at - whole] == UInt8(ascii: "0") { throw self.error("a number cannot start with 0") }
    if self.peek(UInt8(ascii: ".")) {
      integer = false
      self.at += 1
      guard digits(&self) > 0 else { throw self.error("expected a digit after '.'") }
    }
    if self.peek(UInt8(ascii: "e")) || self.peek(UInt8(ascii: "E")) {
      integer = false
      self.at += 1
      if self.peek(UInt8(ascii: "+")) || self.peek(UInt8(ascii: "-")) { self.at += 1 }
      guard digits(&self) > 0 else { throw self.error("expected a digit in the exponent") }
    }
    if integer && whole <= 15 {
      var n = 0
      for i in (self.at - whole)..<self.at { n = n * 10 + Int(self.bytes[i] - UInt8(ascii: "0")) }
      return self.bytes[start] == UInt8(ascii: "-") ? -Double(n) : Double(n)
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.at]), as: UTF8.self)
    guard let value = Double(text) else { throw self.error("not a number") }
    return value
  }

  mutating func string() throws(JSONParseError) -> String {
    self.at += 1  // the opening quote
    let start = self.at
    // The common case: no escapes.
    while self.at < self.bytes.count {
      let b = self.bytes[self.at]
      if b == UInt8(ascii: "\"") {
        let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.at])
        self.at += 1
        guard let s = String(validating: slice, as: UTF8.self) else { throw self.error("a string is not valid UTF-8") }
        return s
      }
      if b == UInt8(ascii: "\\") { break }
      guard b >= 0x20 else { throw self.error("a control character in a string") }
      self.at += 1
    }
    var out = Array(UnsafeBufferPointer(rebasing: self.bytes[start..<self.at]))
    while self.at < self.bytes.count {
      let b = self.bytes[self.at]
      switch b {
      case UInt8(ascii: "\""):
        self.at += 1
        guard let s = String(validating: out, as: UTF8.self) else { throw self.error("a string is not valid UTF-8") }
        return s
      case UInt8(ascii: "\\"):
        self.at += 1
        guard self.at < self.bytes.count else { throw self.error("unexpected end of the text") }
        let e = self.bytes[self.at]
        self.at += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try self.hex4()
          if (0xD800...0xDBFF).contains(scalar) {
            guard self.peek(UInt8(ascii: "\\")), self.at + 1 < self.bytes.count, self.bytes[self.at + 1] == UInt8(ascii: "u") else {
              throw self.error("an unpaired surrogate in a string")
            }
            self.at += 2
            let low = try self.hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw self.error("an unpaired surrogate in a string") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          } else if (0xDC00...0xDFFF).contains(scalar) {
            throw self.error("an unpaired surrogate in a string")
          }
          out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        default:
          throw self.error("an unknown escape in a string")
        }
      default:
        guard b >= 0x20 else { throw self.error("a control character in a string") }
        out.append(b)
        self.at += 1
      }
    }
    throw self.error("an unterminated string")
  }

  mutating func hex4() throws(JSONParseError) -> UInt32 {
    guard self.at + 4 <= self.bytes.count else { throw self.error("unexpected end of the text") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let b = self.bytes[self.at]
      let d: UInt8
      switch b {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
      default: throw self.error("a bad \\u escape")
      }
      v = v * 16 + UInt32(d)
      self.at += 1
    }
    return v
  }
}
