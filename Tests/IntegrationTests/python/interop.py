#!/usr/bin/env python3
"""Calls the Fixpoint services from Python grpcio, with stubs generated from proto/ by grpcio-tools.

Exits 0 and prints "interop ok" when every check passes; prints what failed otherwise.
"""
import argparse
import importlib
import os
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc


def generate(proto_dir, out):
    """Generates stubs for fixpoint/v1 and for the vendored health proto into `out`.

    The health proto's file path would make its modules `grpc.health.v1`, which cannot be found
    under the installed grpcio package (`grpc` is a regular package, not a namespace one): unless
    grpcio-health-checking happens to be installed, that import fails. So it is compiled from a copy
    at `fixpoint_vendored/health/v1/`; the proto package, and so the wire name
    `grpc.health.v1.Health`, is unchanged.
    """
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    fixpoint = []
    for root, _, files in os.walk(os.path.join(proto_dir, "fixpoint")):
        fixpoint += [os.path.relpath(os.path.join(root, f), proto_dir) for f in files if f.endswith(".proto")]
    vendored = os.path.join(out, "src")
    os.makedirs(os.path.join(vendored, "fixpoint_vendored", "health", "v1"))
    shutil.copy(os.path.join(proto_dir, "grpc", "health", "v1", "health.proto"),
                os.path.join(vendored, "fixpoint_vendored", "health", "v1", "health.proto"))
    for includes, protos in (([proto_dir], fixpoint), ([vendored], ["fixpoint_vendored/health/v1/health.proto"])):
        args = [f"-I{i}" for i in includes] + [f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}"]
        rc = protoc.main(["protoc", *args, *protos])
        if rc != 0:
            sys.exit(f"protoc failed: {rc}")
    sys.path.insert(0, out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--admin-token", required=True)
    p.add_argument("--viewer-token", required=True)
    p.add_argument("--addr", action="append", default=[])
    a = p.parse_args()
    addrs = dict(x.split("=", 1) for x in a.addr)
    generate(a.proto_dir, tempfile.mkdtemp(prefix="fixpoint-py-"))
    from fixpoint_vendored.health.v1 import health_pb2 as h, health_pb2_grpc as hg  # the vendored proto
    from fixpoint.v1 import inventory_pb2 as inv, inventory_pb2_grpc as inv_g
    from fixpoint.v1 import drift_pb2 as dr, drift_pb2_grpc as dr_g
    from fixpoint.v1 import compliance_pb2 as co, compliance_pb2_grpc as co_g
    from fixpoint.v1 import remediation_pb2 as re, remediation_pb2_grpc as re_g
    from fixpoint.v1 import notifier_pb2 as no, notifier_pb2_grpc as no_g
    from fixpoint.v1 import common_pb2 as common

    admin = [("authorization", f"Bearer {a.admin_token}")]
    viewer = [("authorization", f"Bearer {a.viewer_token}")]
    failures = []

    def check(name, cond):
        if not cond:
            failures.append(name)

    for key, addr in addrs.items():
        ch = grpc.insecure_channel(addr)
        r = hg.HealthStub(ch).Check(h.HealthCheckRequest(), timeout=5)
        check(f"{key} health", r.status == h.HealthCheckResponse.SERVING)

    ch = lambda k: grpc.insecure_channel(addrs[k])
    check("inventory ListProviders", len(inv_g.InventoryServiceStub(ch("inventory")).ListProviders(inv.ListProvidersRequest(), metadata=admin, timeout=5).providers) == 0)
    check("drift ListSchedules", [s.name for s in dr_g.DriftServiceStub(ch("drift")).ListSchedules(dr.ListSchedulesRequest(), metadata=viewer, timeout=5).schedules] == ["compliance_check", "drift_detection", "resource_sync"])
    check("compliance ListFrameworks", "cis-aws-3.0" in [f.id for f in co_g.ComplianceServiceStub(ch("compliance")).ListFrameworks(co.ListFrameworksRequest(), metadata=viewer, timeout=5).frameworks])
    check("dispatcher GetPolicy", re_g.RemediationServiceStub(ch("dispatcher")).GetPolicy(re.GetPolicyRequest(), metadata=viewer, timeout=5).require_approval)
    notifier = no_g.NotifierServiceStub(ch("notifier"))
    created = notifier.CreateAlert(no.CreateAlertRequest(title="from python", severity=common.SEVERITY_LOW), metadata=admin, timeout=5)
    got = notifier.GetAlert(no.GetAlertRequest(alert_id=created.id), metadata=viewer, timeout=5)
    check("notifier GetAlert round trip", got.title == "from python" and got.severity == common.SEVERITY_LOW)

    def code_of(fn):
        try:
            fn()
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK

    check("no token -> UNAUTHENTICATED", code_of(lambda: notifier.ListAlerts(no.ListAlertsRequest(), timeout=5)) == grpc.StatusCode.UNAUTHENTICATED)
    check("viewer write -> PERMISSION_DENIED", code_of(lambda: notifier.CreateAlert(no.CreateAlertRequest(title="x", severity=common.SEVERITY_LOW), metadata=viewer, timeout=5)) == grpc.StatusCode.PERMISSION_DENIED)
    check("bad page token -> INVALID_ARGUMENT", code_of(lambda: notifier.ListAlerts(no.ListAlertsRequest(page_token="nope"), metadata=viewer, timeout=5)) == grpc.StatusCode.INVALID_ARGUMENT)
    check("notifier ListChannels (none yet)", len(notifier.ListChannels(no.ListChannelsRequest(), metadata=viewer, timeout=5).channels) == 0)

    if failures:
        print("interop FAILED: " + ", ".join(failures))
        return 1
    print("interop ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
