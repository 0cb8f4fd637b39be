// FSBP control → other frameworks, as data. Every edge comes from ../shared/reference (the team's
// gathered facts), which names the primary sources:
// - NIST SP 800-53 r5, PCI DSS v4.0.1: the control's Security Hub page, "Related
//   requirements" (docs.aws.amazon.com/securityhub/latest/userguide/<service>-controls.html);
//   CloudTrail rows from the 2023 snapshot of that guide (awsdocs/aws-security-hub-user-guide
//   @bda5bf7). CIS is its own list (Frameworks.cisAWS30): the benchmark numbers every requirement.
// - SOC 2 (2017 TSC) and HIPAA: Prowler's compliance files (prowler-cloud/prowler:
//   prowler/compliance/aws/soc2_aws.json, hipaa_aws.json), joined through Prowler's checks for the
//   control; EC2.53/54 through Prowler's cis_3.0_aws.json 5.2/5.3.
// A cell the sources leave empty is empty here. PCI v3.2.1 ids are not carried (the framework is v4.0).

/// One control's mappings.
struct Mapping {
  var control: String
  var nist: [String] = []
  var pci: [String] = []
  var soc2: [String] = []
  var hipaa: [String] = []
}

/// NIST 800-53 r5 sets Security Hub reuses across controls.
enum NIST {
  static let publicAccess = ["AC-3", "AC-3(7)", "AC-4", "AC-4(21)", "AC-6", "AC-21", "SC-7", "SC-7(3)", "SC-7(4)", "SC-7(9)", "SC-7(11)", "SC-7(16)", "SC-7(20)", "SC-7(21)"]
  static let network = ["AC-4", "AC-4(21)", "SC-7", "SC-7(4)", "SC-7(5)", "SC-7(11)", "SC-7(16)", "SC-7(21)"]
  static let encryption = ["CA-9(1)", "CM-3(6)", "SC-7(10)", "SC-13", "SC-28", "SC-28(1)", "SI-7(6)"]
  static let logging = ["AC-2(4)", "AC-4(26)", "AC-6(9)", "AU-2", "AU-3", "AU-6(3)", "AU-6(4)", "AU-10", "AU-12", "CA-7", "SC-7(9)", "SI-3(8)", "SI-4(20)", "SI-7(8)"]
  static let guardDuty = ["AC-2(12)", "AU-6(1)", "AU-6(5)", "CA-7", "CM-8(3)", "RA-3(4)", "SA-8(19)", "SA-8(21)", "SA-8(25)", "SA-11(1)", "SA-11(6)", "SA-15(2)", "SA-15(8)", "SC-5", "SC-5(1)", "SC-5(3)", "SI-3(8)", "SI-4", "SI-4(1)", "SI-4(2)", "SI-4(4)", "SI-4(5)", "SI-4(13)", "SI-4(22)", "SI-4(25)", "SI-20"]
}

let mappings: [Mapping] = [
  Mapping(control: "S3.1", nist: NIST.publicAccess, pci: ["1.4.4"], hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(3)(i)"]),
  Mapping(control: "S3.2", nist: NIST.publicAccess),
  Mapping(control: "S3.3", nist: NIST.publicAccess, hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(3)(i)", "164.312(a)(1)"]),
  Mapping(
    control: "S3.5", nist: ["AC-4", "AC-17(2)", "IA-5(1)", "SC-7(4)", "SC-8", "SC-8(1)", "SC-8(2)", "SC-12(3)", "SC-13", "SC-23", "SC-23(3)", "SI-7(6)"],
    pci: ["4.2.1"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.312(a)(2)(iv)", "164.312(c)(1)", "164.312(c)(2)", "164.312(e)(1)", "164.312(e)(2)(i)", "164.312(e)(2)(ii)"]),
  Mapping(control: "S3.8", nist: NIST.publicAccess, pci: ["1.4.4"]),
  Mapping(
    control: "S3.9", nist: NIST.logging, pci: ["10.2.1"], soc2: ["CC7.2", "CC7.3", "A1.2"],
    hipaa: ["164.308(a)(1)(ii)(D)", "164.308(a)(3)(ii)(A)", "164.308(a)(6)(ii)", "164.312(b)", "164.312(e)(2)(i)"]),
  Mapping(
    control: "S3.14", nist: ["AU-9(2)", "CP-6", "CP-6(1)", "CP-6(2)", "CP-9", "CP-10", "SC-5(2)", "SI-12", "SI-13(5)"],
    soc2: ["CC7.4", "A1.2", "C1.2", "PI1.5"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(7)(i)", "164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(C)",
            "164.312(a)(2)(ii)", "164.312(c)(1)", "164.312(c)(2)"]),
  Mapping(control: "S3.17", nist: NIST.encryption + ["AU-9", "SC-12(2)"], pci: ["3.5.1"], soc2: ["PI1.4"]),
  Mapping(control: "EC2.2", nist: NIST.network),
  Mapping(
    control: "EC2.6", nist: ["AC-4(26)", "AU-2", "AU-3", "AU-6(3)", "AU-6(4)", "AU-12", "CA-7", "SI-7(8)"], soc2: ["CC7.2", "CC7.3"],
    hipaa: ["164.308(a)(1)(ii)(D)", "164.308(a)(3)(ii)(A)", "164.308(a)(6)(ii)", "164.312(b)", "164.312(c)(2)"]),
  Mapping(
    control: "EC2.7", nist: NIST.encryption,
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(4)(ii)(A)", "164.312(a)(2)(iv)", "164.312(e)(2)(ii)"]),
  Mapping(control: "EC2.8", nist: ["AC-3", "AC-3(7)", "AC-3(15)", "AC-6"], pci: ["2.2.6"], soc2: ["CC7.2"]),
  Mapping(control: "EC2.18", nist: NIST.network),
  Mapping(control: "EC2.19", nist: NIST.network + ["CA-9(1)", "CM-2", "CM-2(2)", "CM-7"], soc2: ["CC6.6"]),
  Mapping(
    control: "EC2.21", nist: ["AC-4(21)", "CA-9(1)", "CM-2", "CM-2(2)", "CM-7", "SC-7", "SC-7(5)", "SC-7(21)"], pci: ["1.3.1"],
    soc2: ["CC6.6"]),
  Mapping(control: "EC2.53", pci: ["1.3.1"], soc2: ["CC6.6", "CC7.2"], hipaa: ["164.308(a)(1)(ii)(B)", "164.312(e)(1)"]),
  Mapping(control: "EC2.54", pci: ["1.3.1"], soc2: ["CC6.6", "CC7.2"], hipaa: ["164.308(a)(1)(ii)(B)", "164.312(e)(1)"]),
  Mapping(
    control: "IAM.3", nist: ["AC-2(1)", "AC-2(3)", "AC-3(15)"], pci: ["8.3.9", "8.6.3"],
    hipaa: ["164.308(a)(3)(ii)(C)", "164.308(a)(4)(ii)(C)", "164.308(a)(5)(ii)(D)"]),
  Mapping(
    control: "IAM.5", nist: ["AC-2(1)", "AC-3(15)", "IA-2(1)", "IA-2(2)", "IA-2(6)", "IA-2(8)"], pci: ["8.4.2"],
    hipaa: ["164.308(a)(3)(ii)(A)", "164.312(a)(1)", "164.312(d)"]),
  Mapping(control: "IAM.22", soc2: ["CC1.3"], hipaa: ["164.308(a)(3)(ii)(B)", "164.308(a)(4)(ii)(C)", "164.308(a)(5)(ii)(D)"]),
  Mapping(control: "RDS.2", nist: NIST.network, pci: ["1.4.4"], soc2: ["CC6.2"], hipaa: ["164.308(a)(3)(i)", "164.312(a)(1)"]),
  Mapping(
    control: "RDS.3", nist: NIST.encryption, soc2: ["PI1.5"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(4)(ii)(A)", "164.312(a)(2)(iv)", "164.312(e)(2)(ii)"]),
  Mapping(control: "RDS.8", nist: ["CM-3", "SC-5(2)", "SI-13(5)"], soc2: ["C1.1"]),
  Mapping(
    control: "RDS.11", nist: ["CP-6", "CP-6(1)", "CP-6(2)", "CP-9", "CP-10", "SC-5(2)", "SI-12", "SI-13(5)"], soc2: ["CC7.4", "A1.2"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(4)(ii)(A)", "164.308(a)(7)(i)", "164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)",
            "164.308(a)(7)(ii)(C)", "164.312(a)(2)(ii)"]),
  Mapping(control: "RDS.13", nist: ["SI-2", "SI-2(2)", "SI-2(4)", "SI-2(5)"], pci: ["6.3.3"]),
  Mapping(
    control: "CloudTrail.1", nist: NIST.logging + ["AU-14(1)", "SA-8(22)"], soc2: ["CC2.1", "CC7.2", "A1.2", "PI1.3"],
    hipaa: ["164.308(a)(1)(ii)(D)", "164.308(a)(3)(ii)(A)", "164.308(a)(6)(ii)", "164.312(b)", "164.312(e)(2)(i)"]),
  Mapping(
    control: "CloudTrail.2", nist: NIST.encryption + ["AU-9"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(1)(ii)(D)", "164.308(a)(4)(ii)(A)", "164.312(a)(2)(iv)", "164.312(c)(1)", "164.312(c)(2)",
            "164.312(e)(2)(ii)"]),
  Mapping(
    control: "CloudTrail.4", nist: ["AU-9", "SI-4", "SI-7(1)", "SI-7(3)", "SI-7(7)"], soc2: ["CC7.3", "PI1.3"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(1)(ii)(D)", "164.312(b)", "164.312(c)(1)", "164.312(c)(2)"]),
  Mapping(control: "KMS.4", nist: ["SC-12", "SC-12(2)", "SC-28(3)"], pci: ["3.7.4"], soc2: ["PI1.5"], hipaa: ["164.312(a)(2)(iv)"]),
  Mapping(
    control: "GuardDuty.1", nist: NIST.guardDuty, pci: ["11.5.1"], soc2: ["CC3.1", "CC3.2", "CC4.2", "CC6.8", "CC7.1", "CC7.2", "CC7.3", "CC7.4"],
    hipaa: ["164.308(a)(1)(ii)(A)", "164.308(a)(1)(ii)(D)", "164.308(a)(3)(ii)(A)", "164.308(a)(5)(ii)(C)", "164.308(a)(6)(i)",
            "164.308(a)(6)(ii)", "164.308(a)(8)", "164.312(b)", "164.312(e)(2)(i)"]),
  Mapping(
    control: "Lambda.1", nist: NIST.publicAccess, pci: ["7.2.1"],
    hipaa: ["164.308(a)(1)(ii)(B)", "164.308(a)(3)(i)", "164.312(a)(1)", "164.312(e)(1)"]),
]

/// The framework's requirements inverted from `mappings` by one column, in the order the
/// requirements first appear, each with every control mapped to it.
func requirements(_ column: (Mapping) -> [String]) -> [Requirement] {
  var order: [String] = []
  var controls: [String: [String]] = [:]
  for m in mappings {
    for r in column(m) {
      if controls[r] == nil { order.append(r) }
      controls[r, default: []].append(m.control)
    }
  }
  return order.map { Requirement($0, controls: controls[$0]!) }
}
