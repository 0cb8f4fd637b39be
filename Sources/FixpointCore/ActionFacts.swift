public import FixpointProtocol

extension Fixpoint_V1_Action {
  /// Its handler makes no change (ManualGuidance): a person fixes the resource; the dispatcher
  /// neither approves nor executes it, and the CLI's bulk approval lists it apart.
  public var isGuidanceOnly: Bool { self.changeSet.operations.isEmpty }
}
