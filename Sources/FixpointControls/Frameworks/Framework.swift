/// A compliance framework: requirements, each evidenced by controls. Data, versioned: the ids and
/// mappings come from the sources each framework names (never invented).
public struct Framework: Sendable {
  /// `fsbp`, `cis-aws-3.0`, `nist-800-53-r5`, `pci-dss-4.0`, `soc2`, `hipaa`.
  public var id: String
  public var name: String
  public var version: String
  /// Where the requirement list and the mappings come from.
  public var source: String
  /// False when only the requirements Fixpoint has a mapping for are listed (not the whole framework).
  public var complete: Bool
  public var requirements: [Requirement]
}

/// One requirement of a framework and the controls that evidence it. A requirement whose controls
/// are not all in the catalogue (or that has none) is checked by hand: reported manual, never passed.
public struct Requirement: Sendable, Hashable {
  public var id: String
  public var title: String
  public var controls: [String]

  public init(_ id: String, _ title: String = "", controls: [String]) {
    self.id = id
    self.title = title
    self.controls = controls
  }
}

/// A requirement of a framework, by ids.
public struct RequirementRef: Sendable, Hashable, CustomStringConvertible {
  public var framework: String
  public var requirement: String
  public init(framework: String, requirement: String) {
    self.framework = framework
    self.requirement = requirement
  }
  public var description: String { "\(self.framework)/\(self.requirement)" }
}

/// The frameworks, in one place.
public enum FrameworkCatalogue {
  public static let all: [Framework] = [
    Frameworks.fsbp, Frameworks.cisAWS30, Frameworks.nist80053r5, Frameworks.pciDSS40, Frameworks.soc2, Frameworks.hipaa,
    Frameworks.cisAWS12,
  ]

  public static let byID: [String: Framework] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

  /// Every requirement a control evidences, in framework order.
  public static func requirements(of controlID: String) -> [RequirementRef] {
    self.byControl[controlID] ?? []
  }

  private static let byControl: [String: [RequirementRef]] = {
    var out: [String: [RequirementRef]] = [:]
    for framework in all {
      for requirement in framework.requirements {
        for control in requirement.controls {
          out[control, default: []].append(RequirementRef(framework: framework.id, requirement: requirement.id))
        }
      }
    }
    return out
  }()
}
