#!/usr/bin/env python3
"""Fixpoint's side of scripts/bench-loop, as an operator would run it with the `fixpoint` CLI
against a suite started by `fixpoint up` (dispatcher.auto.suggest on, approval not required for
tiers 1-2, an open change window): connect the account, sync, assess the six FSBP controls (each
violation becomes a finding the dispatcher plans and, for tiers 1-2, executes by itself), approve
the tier-3 actions as a second user, execute them, and wait until every action has completed
(each one snapshotted, applied, verified against its control and audited). Progress goes to
stderr, the phase times as one JSON object to stdout.

usage: loop_driver.py FIXPOINT_BIN PROTO_DIR DISPATCHER_ADDR MOTO_ENDPOINT N APPROVER_TOKEN_FILE"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from grpc_tools import protoc

fixpoint, proto, dispatcher_addr, endpoint, n, approver = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
out = tempfile.mkdtemp()
include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
files = [os.path.relpath(os.path.join(r, f), proto) for r, _, fs in os.walk(proto) for f in fs if f.endswith(".proto")]
assert protoc.main(["protoc", f"-I{proto}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files]) == 0
sys.path.insert(0, out)
from fixpoint.v1 import remediation_pb2 as rem, remediation_pb2_grpc as rem_g  # noqa: E402

admin = open(os.path.join(os.environ["FIXPOINT_DATA_DIR"], "keys", "admin.token")).read().strip()
dispatcher = rem_g.RemediationServiceStub(grpc.insecure_channel(dispatcher_addr))
expected = 6 * n  # S3.17 + S3.8 per bucket, EC2.53 per group, EC2.8 per instance, RDS.2 + RDS.11 per database
tier3 = n         # RDS.2: public access off is tier 3
start = time.monotonic()
phases = {}


def cli(*args, env=None, ok=(0,)):
    run = subprocess.run([fixpoint, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if run.returncode not in ok:
        sys.exit(f"fixpoint {' '.join(args)} exited {run.returncode}:\n{run.stdout}{run.stderr}")
    return run.stdout


def mark(phase):
    phases[phase] = round(time.monotonic() - start - sum(phases.values()), 3)
    print(f"  {phase}: {phases[phase]:.1f} s", file=sys.stderr)


def states():
    m = dispatcher.GetMetrics(rem.GetMetricsRequest(), metadata=[("authorization", f"Bearer {admin}")])
    return dict(m.actions_by_state)


def progress():
    """The actions by state, once a second, on stderr (a daemon thread: through the blocking CLI calls too)."""
    while True:
        time.sleep(1)
        try:
            print(f"    {time.monotonic() - start:6.1f} s  " + " ".join(f"{k} {v}" for k, v in sorted(states().items())), file=sys.stderr)
        except grpc.RpcError:
            pass


def wait(what, done, timeout=3600):
    deadline = time.monotonic() + timeout
    while True:
        s = states()
        if s.get("failed"):
            sys.exit(f"{s['failed']} actions failed while waiting for {what}: {s}")
        if done(s):
            return s
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}: {s}")
        time.sleep(0.25)


threading.Thread(target=progress, daemon=True).start()
cli("provider", "connect", "aws", "--name", "bench", "--endpoint", endpoint,
    env={"AWS_ACCESS_KEY_ID": "AKIAFIXPOINTBENCH001", "AWS_SECRET_ACCESS_KEY": "bench"})
mark("connect")
cli("provider", "sync", "bench", "--types", "s3_bucket,security_group,ec2_instance,rds_instance")
mark("sync")
cli("compliance", "assess", "--framework", "fsbp", "--controls", "S3.17,S3.8,EC2.53,EC2.8,RDS.2,RDS.11", "--wait", ok=(0, 3))
mark("assessment")
wait("the tier-3 actions to be planned", lambda s: s.get("pending_approval", 0) >= tier3)
mark("planning")
cli("remediation", "approve", "--all-pending", "--comment", "bench-loop: inside the open window", "--token-file", approver)
cli("remediation", "execute", "--all-approved", ok=(0, 3))  # 3: some automatic ones were already in another execution
s = wait("every action to complete", lambda s: s.get("completed", 0) >= expected)
mark("execution")
phases["total"] = round(time.monotonic() - start, 3)
phases["actions"] = s
print(json.dumps(phases))
