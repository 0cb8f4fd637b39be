import CloudAWS

/// Fresh reads of resources of one type, in one account and region, share describe calls: while
/// one call is in flight, reads that arrive wait and then go together in the next (up to the
/// type's batch size). A lone read goes at once, so batching adds no wait when idle; under load
/// (a batch of fixes snapshotting and verifying) the calls drop by the batch size.
actor ReadBatcher {
  struct Key: Hashable {
    let providerID: String
    let type: String
    let region: String
    let fields: [String]
  }

  private struct Waiting {
    let stored: CloudResource
    let continuation: CheckedContinuation<CloudResource?, any Error>
  }

  private var queues: [Key: [Waiting]] = [:]

  /// `stored`'s resource read fresh (`fields` of it), nil when the cloud no longer has it.
  func read(_ stored: CloudResource, fields: Set<String>, type: any BatchReadable, account: AWSAccount, providerID: String) async throws -> CloudResource? {
    let key = Key(providerID: providerID, type: type.name, region: stored.region, fields: fields.sorted())
    return try await withCheckedThrowingContinuation { continuation in
      let idle = self.queues[key] == nil
      self.queues[key, default: []].append(Waiting(stored: stored, continuation: continuation))
      if idle { Task { await self.drain(key, fields: fields, type: type, account: account) } }
    }
  }

  /// Sends what waits under `key`, batch after batch, until nothing does.
  private func drain(_ key: Key, fields: Set<String>, type: any BatchReadable, account: AWSAccount) async {
    while let waiting = self.queues[key], !waiting.isEmpty {
      let batch = Array(waiting.prefix(type.maxBatch))
      self.queues[key] = Array(waiting.dropFirst(batch.count))
      do {
        let fresh = try await type.readMany(account, region: CloudResource.callRegion(key.region), stored: batch.map(\.stored), fields: fields)
        for w in batch { w.continuation.resume(returning: fresh[w.stored.externalID]) }
      } catch {
        for w in batch { w.continuation.resume(throwing: error) }
      }
    }
    self.queues[key] = nil
  }
}
