import CloudAWS
import Foundation
import Testing
import TestSupport

@Suite("SigV4")
struct SigV4Tests {
  static let suiteCredentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
  static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

  static func signature(_ request: AWSRequest) -> String? {
    request.header("authorization")?.components(separatedBy: "Signature=").last
  }

  @Test(
    "the AWS SigV4 test-suite vectors",
    arguments: [
      ("get-vanilla", "GET", [(String, String)](), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
      ("post-vanilla", "POST", [], "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
      ("get-vanilla-query-order-key-case", "GET", [("Param2", "value2"), ("Param1", "value1")],
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
      ("get-vanilla-query-order-value", "GET", [("Param1", "value2"), ("Param1", "value1")],
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    ])
  func suiteVectors(name: String, method: String, query: [(String, String)], expected: String) {
    var request = AWSRequest(method: method, host: "example.amazonaws.com", path: "/", query: query)
    SigV4.sign(&request, credentials: Self.suiteCredentials, region: "us-east-1", service: "service", date: Self.suiteDate)
    #expect(Self.signature(request) == expected, "\(name)")
    #expect(request.header("x-amz-date") == "20150830T123600Z")
  }

  @Test("the canonical request of get-vanilla, line by line")
  func canonicalGetVanilla() {
    var request = AWSRequest(method: "GET", host: "example.amazonaws.com")
    request.headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
    let (canonical, signed) = SigV4.canonicalRequest(request, normalizePath: true)
    #expect(canonical == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(signed == "host;x-amz-date")
  }

  /// botocore signs random requests (methods, odd paths with dot segments and non-ASCII, repeated
  /// query keys, headers with runs of whitespace, binary bodies, session tokens, S3 and the rest);
  /// our signer must produce the same canonical request and Authorization header.
  @Test("botocore's SigV4Auth and S3SigV4Auth agree byte for byte on random requests")
  func matchesBotocore() throws {
    let seed = UInt32.random(in: 1...UInt32.max)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/sigv4_cases.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [try TestPython.interpreter(), script, "\(seed)", "400"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "sigv4_cases.py failed (botocore comes from Tests/requirements.txt)")
    let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    #expect(cases.count == 400)
    var mismatches = 0
    for c in cases {
      let query = (c["query"] as! [[String]]).map { ($0[0], $0[1]) }
      let headers = (c["headers"] as! [[String]]).map { ($0[0], $0[1]) }
      var request = AWSRequest(
        method: c["method"] as! String, scheme: "http", host: c["host"] as! String, port: c["port"] as? Int,
        path: c["path"] as! String, query: query, headers: headers,
        body: Array(Data(base64Encoded: c["body"] as! String)!))
      let credentials = AWSCredentials(
        accessKeyID: c["access_key"] as! String, secretAccessKey: c["secret_key"] as! String, sessionToken: c["token"] as? String)
      let timestamp = c["timestamp"] as! String
      let date = try #require(Self.parse(timestamp))
      let service = c["service"] as! String
      SigV4.sign(&request, credentials: credentials, region: c["region"] as! String, service: service, date: date)
      let (canonical, _) = SigV4.canonicalRequest(request, normalizePath: service != "s3")
      if canonical != c["canonical_request"] as! String || request.header("authorization") != c["authorization"] as? String {
        mismatches += 1
        if mismatches <= 3 {
          Issue.record("seed \(seed): mismatch\nours:\n\(canonical)\nbotocore:\n\(c["canonical_request"] as! String)")
        }
      }
    }
    #expect(mismatches == 0, "seed \(seed): \(mismatches) of \(cases.count) differ")
  }

  static func parse(_ timestamp: String) -> Date? {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return formatter.date(from: timestamp)
  }
}
