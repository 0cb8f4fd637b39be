public import Crypto
public import Foundation

/// Seals secrets at rest (provider credentials, channel secrets) with AES-256-GCM under the master
/// key that `fixpoint init` writes. The row's id is the additional authenticated data, so a sealed
/// blob copied to another row does not open.
public struct Sealer: Sendable {
  let key: SymmetricKey

  /// Reads the 32-byte base64 key; a missing or malformed file is a precondition failure naming it.
  public init(masterKeyFile path: String) throws {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
      let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32
    else {
      throw ServiceError.failedPrecondition("cannot read a 32-byte base64 master key from \(path); run `fixpoint init`")
    }
    self.key = SymmetricKey(data: bytes)
  }

  /// Nonce, ciphertext and tag in one blob, bound to `context`.
  public func seal(_ plaintext: Data, context: String) throws -> Data {
    guard let combined = try AES.GCM.seal(plaintext, using: self.key, authenticating: Data(context.utf8)).combined else {
      throw ServiceError.failedPrecondition("sealing failed")
    }
    return combined
  }

  /// Opens a blob sealed with the same `context`; throws when the key, the context or a byte differs.
  public func open(_ sealed: Data, context: String) throws -> Data {
    try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: self.key, authenticating: Data(context.utf8))
  }
}
