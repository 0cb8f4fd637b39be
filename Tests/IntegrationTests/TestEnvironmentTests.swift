import Foundation
import Testing
import TestSupport

@Suite("The tests' own Python")
struct TestEnvironmentTests {
  /// A machine with packages installed by hand once hid a missing dependency (grpcio-health-checking):
  /// the tests' Python must see exactly what Tests/requirements.txt pins, nothing from the machine.
  @Test("the tests' Python is an isolated environment holding exactly the pinned packages")
  func exactlyThePinnedPackages() async throws {
    let python = try TestPython.interpreter()
    let (status, out, err) = try await runCommand([python, "-c", """
      import json, site, sys
      from importlib import metadata
      print(json.dumps({
        "isolated": sys.prefix != sys.base_prefix and not any(p.startswith(sys.base_prefix) and "site-packages" in p for p in sys.path),
        "user_site": site.ENABLE_USER_SITE,
        "packages": sorted(f"{d.metadata['Name'].lower().replace('_', '-')}=={d.version}" for d in metadata.distributions()
                           if d.metadata['Name'].lower() not in ("pip", "setuptools", "wheel")),
      }))
      """])
    try #require(status == 0, "\(err)")
    let seen = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    #expect(seen["isolated"] as? Bool == true, "the tests' Python sees the system's site-packages")
    #expect(seen["user_site"] as? Bool != true, "the tests' Python reads the user's site-packages")
    let requirements = try String(contentsOf: TestPython.root.appendingPathComponent("Tests/requirements.txt"), encoding: .utf8)
    let pinned = requirements.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty && !$0.hasPrefix("#") }
      .map { line -> String in
        let (name, version) = line.split(separator: "=", maxSplits: 1).map(String.init).pair
        let bare = name.split(separator: "[").first.map(String.init) ?? name
        return "\(bare.lowercased().replacingOccurrences(of: "_", with: "-"))==\(version.trimmingCharacters(in: CharacterSet(charactersIn: "=")))"
      }
    #expect(pinned.allSatisfy { $0.contains("==") && !$0.hasSuffix("==") }, "every requirement is pinned with ==")
    let installed = seen["packages"] as? [String] ?? []
    #expect(Set(installed) == Set(pinned), """
      installed but not pinned: \(Set(installed).subtracting(pinned).sorted()); \
      pinned but not installed: \(Set(pinned).subtracting(installed).sorted())
      """)
  }
}

extension Array where Element == String {
  fileprivate var pair: (String, String) { (self.first ?? "", self.count > 1 ? self[1] : "") }
}
