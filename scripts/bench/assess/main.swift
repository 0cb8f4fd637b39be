// Benchmark, not a test: the whole control catalogue over N synthetic resource documents,
// in-process (no I/O), for each N given. Documents are the controls' own failing and passing
// examples, made unique per resource, spread over every type the catalogue checks.
//   .build/release/bench-assess 10000 100000
import FixpointControls
import FixpointDocuments
import Foundation

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
  FileHandle.standardError.write(Data("usage: bench-assess N [N …]\n".utf8))
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

var results: [(n: Int, seconds: Double, evaluations: Int, failures: Int)] = []
for n in sizes {
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
  let elapsed = ContinuousClock.now - start
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  results.append((n, seconds, evaluations, failures))
  print("\(n) documents: \(evaluations) evaluations (\(failures) failing) in \(String(format: "%.3f", seconds)) s — "
    + "\(Int(Double(n) / seconds)) documents/s")
}
if results.count > 1, let first = results.first, let last = results.last {
  let expected = Double(last.n) / Double(first.n)
  print("linearity: \(last.n) took \(String(format: "%.2f", last.seconds / first.seconds))× the time of \(first.n) "
    + "(\(String(format: "%.0f", expected))× the documents; 1.00 = linear: \(String(format: "%.2f", (last.seconds / first.seconds) / expected)))")
}
