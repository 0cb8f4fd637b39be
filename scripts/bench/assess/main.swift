// Benchmark, not a test: the whole control catalogue over N synthetic resource documents,
// in-process (no I/O), for each N given. Documents are the controls' own failing and passing
// examples, made unique per resource, spread over every type the catalogue checks.
//   .build/release/bench-assess 10000 100000         every control on each document (scripts/bench-assess)
//   .build/release/bench-assess drift 10000 100000   each document against a baseline: a third
//       unchanged, a third changed so that its control fails (the passing example as baseline, the
//       failing one live), a third retagged; diff and classification as drift does them
//       (scripts/bench-drift)
//   .build/release/bench-assess iac 1000 10000       a Terraform state of N resources (buckets with
//       split public access blocks, security groups with rules, instances) read from its bytes,
//       converted, compared with N live documents (a fifth changed, 2 % missing, 2 % unmanaged) and
//       the changed ones classified, as drift does for `RunScan` with a definition (scripts/bench-drift)
import FixpointControls
import FixpointDocuments
import FixpointIaC
import Foundation

let mode = ["drift", "iac"].contains(CommandLine.arguments.dropFirst().first ?? "") ? CommandLine.arguments[1] : "assess"
let drift = mode == "drift"
let sizes = CommandLine.arguments.dropFirst(mode == "assess" ? 1 : 2).compactMap { Int($0) }
guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
  FileHandle.standardError.write(Data("usage: bench-assess [drift|iac] N [N …]\n".utf8))
  exit(2)
}

/// A Terraform state of `n` resources and the live documents of the estate it describes.
func estate(_ n: Int) -> (state: Data, live: [LiveResource]) {
  var resources: [JSONValue] = []
  var live: [LiveResource] = []
  func tf(_ type: String, _ name: String, _ attributes: JSONValue) -> JSONValue {
    ["mode": "managed", "type": .string(type), "name": .string(name), "provider": "provider.aws", "instances": [["attributes": attributes]]]
  }
  for i in 0..<n {
    let changed = i % 5 == 0, missing = i % 50 == 1
    let tags: JSONValue = ["team": .string("t\(i % 7)"), "env": "prod"]
    switch i % 3 {
    case 0:
      let name = "bucket-\(i)"
      resources.append(tf("aws_s3_bucket", "b\(i)", ["id": .string(name), "bucket": .string(name), "tags_all": tags]))
      resources.append(tf("aws_s3_bucket_public_access_block", "b\(i)", [
        "bucket": .string(name), "block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true,
      ]))
      let pab: JSONValue = ["block_public_acls": .bool(!changed), "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true]
      if !missing { live.append(LiveResource(id: "res_\(i)", type: "s3_bucket", externalID: "arn:aws:s3:::\(name)", name: name, region: "us-east-1",
                                              document: ["name": .string(name), "region": "us-east-1", "tags": tags, "public_access_block": pab, "versioning": "Enabled"])) }
    case 1:
      let id = "sg-\(i)"
      let rule: JSONValue = ["cidr_blocks": ["10.0.0.0/8"], "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false,
                             "protocol": "tcp", "from_port": 443, "to_port": 443, "description": "https"]
      resources.append(tf("aws_security_group", "g\(i)", ["id": .string(id), "name": .string("g\(i)"), "description": "web", "vpc_id": "vpc-1", "tags_all": tags, "ingress": [rule]]))
      var ingress: [String: JSONValue] = [
        "tcp 443-443 10.0.0.0/8": ["rule_id": .string("sgr-\(i)"), "protocol": "tcp", "from_port": 443, "to_port": 443, "description": "https", "cidr_ipv4": "10.0.0.0/8"],
      ]
      if changed { ingress["tcp 22-22 0.0.0.0/0"] = ["rule_id": .string("sgr-x\(i)"), "protocol": "tcp", "from_port": 22, "to_port": 22, "description": "", "cidr_ipv4": "0.0.0.0/0"] }
      if !missing { live.append(LiveResource(id: "res_\(i)", type: "security_group", externalID: "arn:sg/\(id)", name: "g\(i)", region: "us-east-1",
                                              document: ["id": .string(id), "name": .string("g\(i)"), "description": "web", "vpc_id": "vpc-1", "tags": tags,
                                                         "ingress": .object(ingress), "network_interface_count": 1])) }
    default:
      let id = "i-\(i)"
      resources.append(tf("aws_instance", "a\(i)", ["id": .string(id), "instance_type": "t3.micro", "vpc_security_group_ids": ["sg-1"], "tags_all": tags,
                                                   "metadata_options": [["http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1]]]))
      if !missing { live.append(LiveResource(id: "res_\(i)", type: "ec2_instance", externalID: "arn:i/\(id)", name: id, region: "us-east-1", document: [
        "id": .string(id), "instance_type": "t3.micro", "security_groups": ["sg-1"], "tags": tags, "state": "running",
        "metadata_options": ["http_tokens": .string(changed ? "optional" : "required"), "http_endpoint": "enabled", "http_put_response_hop_limit": 1],
      ])) }
    }
    if i % 50 == 2 {
      live.append(LiveResource(id: "res_u\(i)", type: "s3_bucket", externalID: "arn:aws:s3:::stray-\(i)", name: "stray-\(i)", region: "us-east-1",
                               document: ["name": .string("stray-\(i)"), "tags": [:]]))
    }
  }
  let state: JSONValue = ["version": 4, "serial": 1, "lineage": "bench", "terraform_version": "1.9.5", "resources": .array(resources)]
  return (state.canonicalData, live)
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
  if mode == "iac" {
    let (state, live) = estate(n)
    let start = ContinuousClock.now
    let parsed = try IaC.parse(state, format: .terraformState)
    let read = ContinuousClock.now
    let result = IaCComparison.compare(declared: parsed.resources, live: live)
    let compared = ContinuousClock.now
    var kinds: [DriftClass.Kind: Int] = [:]
    for changed in result.changed {
      if let found = DriftClass.of(type: changed.live.type, expected: changed.expected, live: changed.live.document) { kinds[found.kind, default: 0] += 1 }
    }
    let elapsed = seconds(ContinuousClock.now - start)
    results.append((n, elapsed, n, result.changed.count))
    print("\(n)-resource Terraform state (\(state.count / 1024) KiB) against \(live.count) live documents: \(result.changed.count) changed "
      + "(\(kinds[.security] ?? 0) security), \(result.missing.count) missing, \(result.unmanaged.count) unmanaged, coverage "
      + "\(String(format: "%.1f", result.coverage.ratio * 100)) %, in \(String(format: "%.3f", elapsed)) s (read \(String(format: "%.3f", seconds(read - start))), "
      + "compare \(String(format: "%.3f", seconds(compared - read))), classify \(String(format: "%.3f", seconds(ContinuousClock.now - compared)))) — "
      + "\(Int(Double(n) / elapsed)) resources/s")
    // The baseline for the read: Foundation's JSONDecoder through JSONValue's Codable conformance.
    let foundationStart = ContinuousClock.now
    _ = try JSONDecoder().decode(JSONValue.self, from: state)
    let foundation = seconds(ContinuousClock.now - foundationStart)
    print("  reading the state with Foundation's JSONDecoder instead: \(String(format: "%.3f", foundation)) s; "
      + "FixpointDocuments' parser (with conversion) takes \(String(format: "%.2f", seconds(read - start) / foundation))× that")
    continue
  }
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
