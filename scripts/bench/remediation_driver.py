#!/usr/bin/env python3
"""Drives Fixpoint for scripts/bench-remediation over gRPC (stubs generated from proto/): submits a
finding per misconfiguration, asks for actions, approves the tier 3 ones (as another user), executes
all approved actions and checks they completed (each is verified by the dispatcher). Prints the
elapsed seconds from the first finding to the last completion, and the counts.

usage: remediation_driver.py PROTO_DIR INVENTORY_ADDR DISPATCHER_ADDR ADMIN_TOKEN APPROVER_TOKEN"""
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_tools import protoc

proto, inventory_addr, dispatcher_addr, admin, approver = sys.argv[1:6]
out = tempfile.mkdtemp()
include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
files = [os.path.relpath(os.path.join(r, f), proto) for r, _, fs in os.walk(proto) for f in fs if f.endswith(".proto")]
assert protoc.main(["protoc", f"-I{proto}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files]) == 0
sys.path.insert(0, out)
from fixpoint.v1 import inventory_pb2 as inv, inventory_pb2_grpc as inv_g, remediation_pb2 as rem, remediation_pb2_grpc as rem_g  # noqa: E402

md = lambda token: [("authorization", f"Bearer {token}")]  # noqa: E731
inventory = inv_g.InventoryServiceStub(grpc.insecure_channel(inventory_addr))
dispatcher = rem_g.RemediationServiceStub(grpc.insecure_channel(dispatcher_addr, options=[("grpc.max_receive_message_length", 256 << 20)]))

resources, token = [], ""
while True:
    page = inventory.ListResources(inv.ListResourcesRequest(page_size=1000, page_token=token), metadata=md(admin))
    resources += page.resources
    token = page.next_page_token
    if not token:
        break
targets = []
for r in resources:
    if r.type == "s3_bucket" and r.name.startswith("fix-bucket-"):
        targets += [(r, "S3.17"), (r, "S3.8")]
    elif r.type == "security_group" and r.name.startswith("fix-sg-"):
        targets.append((r, "EC2.53"))
    elif r.type == "ec2_instance" and r.tags.get("bench") == "imds":
        targets.append((r, "EC2.8"))
    elif r.type == "rds_instance" and r.name.startswith("fix-db-"):
        targets += [(r, "RDS.11"), (r, "RDS.2")]


def suggest(target):
    r, control = target
    finding = dispatcher.SubmitFinding(rem.SubmitFindingRequest(finding=rem.Finding(
        source="bench", control_id=control, resource={"resource_id": r.id, "type": r.type, "provider_id": r.provider_id, "region": r.region})),
        metadata=md(admin))
    action = dispatcher.SuggestAction(rem.SuggestActionRequest(finding_id=finding.id), metadata=md(admin))
    if action.state == rem.ACTION_STATE_PENDING_APPROVAL:
        action = dispatcher.ApproveAction(rem.ApproveActionRequest(action_id=action.id, comment="bench"), metadata=md(approver))
    return action


start = time.monotonic()
with ThreadPoolExecutor(8) as pool:
    actions = list(pool.map(suggest, targets))
suggested = time.monotonic()
result = dispatcher.ExecuteAction(rem.ExecuteActionRequest(all_approved=True), metadata=md(admin), timeout=3600)
end = time.monotonic()
states = {}
for a in result.actions:
    states[rem.ActionState.Name(a.state)] = states.get(rem.ActionState.Name(a.state), 0) + 1
failed = [a.failure_reason for a in result.actions if a.state != rem.ACTION_STATE_COMPLETED]
print(f"{end - start:.3f} {suggested - start:.3f} {len(targets)} {states} {failed[:3]}")
