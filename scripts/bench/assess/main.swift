// Benchmark, not a test: the whole control catalogue over N synthetic resource documents,
// in-process (no I/O), for each N given. Documents are the controls' own failing and passing
// examples, made unique per resource, spread over every type the catalogue checks.
//   .build/release/bench-assess 10000 100000         every control on each document (scripts/bench-assess)
//   .build/release/bench-assess drift 10000 100000   each document against a baseline: a third
//       unchanged, a third changed so that its control fails (the passing example as baseline, the
//       failing one live), a third retagged; diff and classification as drift does them
//       (scripts/bench-drift)
import FixpointControls
import FixpointDocuments
import Foundation

let drift = CommandLine.arguments.dropFirst().first == "drift"
let sizes = CommandLine.arguments.dropFirst(drift ? 2 : 1).compactMap { Int($0) }
guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
  FileHandle.standardError.write(Data("usage: bench-assess [drift] N [N …]\n".utf8))
  exit(2)
}

/// Every control's examples, by type.
let templates: [(type: String, document: JSONValue)] = ControlCatalogue.all.flatMap { c in
  [(c.examples.type, c.examples.failing), (c.examples.type, c.examples.passing)]
}
let byType = Dictionary(grouping: ControlCatalogue.all.flatMap { c in c.resourceTypes.map { ($0, c) } }, by: \.0).mapValues { $0.map(\.1) }

func documents(_ n: Int) -> [(String, JSONValue)] {
  (0..<n).map { i in
    let (type, template) = templates[i % templates.count]
    var document = template
    document.set(.string("r-\(i)"), at: DocumentPath(segments: ["id"]))
    return (type, document)
  }
}

/// (type, baseline, live) triples for the drift mode.
func pairs(_ n: Int) -> [(String, JSONValue, JSONValue)] {
  let controls = ControlCatalogue.all.filter(\.automated)
  return (0..<n).map { i in
    let c = controls[i % controls.count]
    var baseline = c.examples.passing
    baseline.set(.string("r-\(i)"), at: DocumentPath(segments: ["id"]))
    var live = baseline
    switch i % 3 {
    case 0: break
    case 1:
      live = c.examples.failing
      live.set(.string("r-\(i)"), at: DocumentPath(segments: ["id"]))
    default: live.set(.string("v\(i)"), at: DocumentPath(segments: ["tags", "bench"]))
    }
    return (c.examples.type, baseline, live)
  }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

var results: [(n: Int, seconds: Double, evaluations: Int, failures: Int)] = []
for n in sizes {
  if drift {
    let triples = pairs(n)
    let start = ContinuousClock.now
    var kinds: [DriftClass.Kind: Int] = [:]
    var unchanged = 0
    for (type, baseline, live) in triples {
      if let found = DriftClass.of(type: type, expected: baseline, live: live) { kinds[found.kind, default: 0] += 1 } else { unchanged += 1 }
    }
    let elapsed = seconds(ContinuousClock.now - start)
    results.append((n, elapsed, n, kinds.values.reduce(0, +)))
    print("\(n) resources against their baselines: \(kinds[.security] ?? 0) security, \(kinds[.compliance] ?? 0) compliance, "
      + "\(kinds[.configuration] ?? 0) configuration drifts, \(unchanged) unchanged, in \(String(format: "%.3f", elapsed)) s — "
      + "\(Int(Double(n) / elapsed)) resources/s")
    continue
  }
  let docs = documents(n)
  let parameters = Parameters()
  let start = ContinuousClock.now
  var evaluations = 0
  var failures = 0
  for (type, document) in docs {
    for control in byType[type] ?? [] {
      evaluations += 1
      if control.evaluate(document, parameters).isFail { failures += 1 }
    }
  }
  let elapsed = seconds(ContinuousClock.now - start)
  results.append((n, elapsed, evaluations, failures))
  print("\(n) documents: \(evaluations) evaluations (\(failures) failing) in \(String(format: "%.3f", elapsed)) s — "
    + "\(Int(Double(n) / elapsed)) documents/s")
}
if results.count > 1, let first = results.first, let last = results.last {
  let expected = Double(last.n) / Double(first.n)
  print("linearity: \(last.n) took \(String(format: "%.2f", last.seconds / first.seconds))× the time of \(first.n) "
    + "(\(String(format: "%.0f", expected))× the documents; 1.00 = linear: \(String(format: "%.2f", (last.seconds / first.seconds) / expected)))")
}
