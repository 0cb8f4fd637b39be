import FixpointDocuments
import Foundation
import Testing
import TestSupport

@Suite("JSON parser")
struct JSONParserTests {
  @Test("values, escapes, surrogate pairs and numbers read as Foundation reads them")
  func values() throws {
    let text = #"""
      {"s": "a\"b\\c\/d\b\f\n\r\t", "u": "\u00e9\u4e2d\ud83d\ude00", "raw": "é中😀", "n": [0, -1, 12.5, -0.25, 1e3, 2E-2, 123456789012345678, 9007199254740993],
       "b": [true, false, null], "o": {}, "a": [], "nested": {"x": [{"y": [1]}]}}
      """#
    let parsed = try JSONValue.parse(Data(text.utf8))
    #expect(parsed["s"] == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
    #expect(parsed["u"] == .string("é中😀") && parsed["raw"] == parsed["u"])
    #expect(parsed["n"] == .array([0, -1, 12.5, -0.25, 1000, 0.02, 123456789012345678, 9007199254740993].map { JSONValue.number($0) }))
    #expect(parsed["b"] == [true, false, .null] && parsed["o"] == .object([:]) && parsed["a"] == .array([]))
    #expect(parsed["nested"]?["x"] == [["y": [1]]])
    #expect(try JSONValue.parse(Data(" 42 ".utf8)) == .number(42))
    #expect(try JSONValue.parse(Data("\"x\"".utf8)) == "x")
  }

  @Test("random documents read back equal to what was encoded", arguments: 0..<20)
  func roundTrip(seed: Int) throws {
    var rng = SplitMix64(seed: UInt64(seed))
    let value = Self.random(&rng, depth: 0)
    let encoded = value.canonicalData
    #expect(try JSONValue.parse(encoded) == value, "\(String(decoding: encoded, as: UTF8.self).prefix(300))")
  }

  @Test("malformed text names what and where; deep nesting and bad UTF-8 are refused", arguments: [
    ("{\"a\": 1,\n \"b\": }", "unexpected character at line 2, column 7"),
    ("[1, 2", "expected ',' or ']'"), ("{\"a\" 1}", "expected ':'"), ("{1: 2}", "expected a string key"),
    ("01", "a number cannot start with 0"), ("1.", "expected a digit after '.'"), ("-", "expected a digit"), ("tru", "unexpected end"),
    ("\"abc", "an unterminated string"), ("\"a\\x\"", "an unknown escape"), ("\"\\ud800\"", "an unpaired surrogate"),
    ("\"a\u{1}b\"", "a control character"), ("[1] 2", "unexpected content after the value"), ("", "unexpected end"),
    (String(repeating: "[", count: 600), "nested deeper than 512"),
  ])
  func malformed(text: String, expected: String) {
    #expect { _ = try JSONValue.parse(Data(text.utf8)) } throws: { "\($0)".contains(expected) }
  }

  @Test("a string that is not UTF-8 is refused")
  func invalidUTF8() {
    #expect { _ = try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) } throws: { "\($0)".contains("not valid UTF-8") }
  }

  static func random(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
    let pieces = ["a", "é", "中", "😀", "\"", "\\", "\n", "\t", "\u{1}", "/", " ", "key", "\u{7f}"]
    switch depth > 4 ? rng.int(4) : rng.int(6) {
    case 0: return .null
    case 1: return .bool(rng.int(2) == 0)
    case 2: return .number(rng.int(2) == 0 ? Double(rng.int(1_000_000)) - 500_000 : Double(rng.int(1_000_000)) / 64)
    case 3: return .string((0..<rng.int(8)).map { _ in pieces[rng.int(pieces.count)] }.joined())
    case 4: return .array((0..<rng.int(5)).map { _ in Self.random(&rng, depth: depth + 1) })
    default:
      var o: [String: JSONValue] = [:]
      for _ in 0..<rng.int(5) { o[(0..<rng.int(4)).map { _ in pieces[rng.int(pieces.count)] }.joined()] = Self.random(&rng, depth: depth + 1) }
      return .object(o)
    }
  }
}
