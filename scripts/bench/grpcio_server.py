#!/usr/bin/env python3
"""The baseline for scripts/bench-rpc: NotifierService.GetAlert in Python grpcio, doing the same work
as the Swift service — verify the EdDSA bearer token and its role, read the alert from the same
SQLite file, answer the same message. Like the Swift services it remembers a verified token until
its expiry, so each side pays for one signature check per token."""
import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
import jwt
from grpc_tools import protoc

p = argparse.ArgumentParser()
p.add_argument("--proto-dir", required=True)
p.add_argument("--db", required=True)
p.add_argument("--public-key", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--mode", choices=["sync", "aio"], default="sync")
a = p.parse_args()

out = tempfile.mkdtemp(prefix="fixpoint-bench-py-")
include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
protos = [os.path.relpath(os.path.join(r, f), a.proto_dir) for r, _, fs in os.walk(a.proto_dir) for f in fs if f.endswith(".proto")]
assert protoc.main(["protoc", f"-I{a.proto_dir}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *protos]) == 0
sys.path.insert(0, out)
from fixpoint.v1 import notifier_pb2 as no, notifier_pb2_grpc as no_g  # noqa: E402

PUBLIC_KEY = open(a.public_key).read()
READERS = {"viewer", "operator", "approver", "admin", "service"}
local = threading.local()
verified = {}  # token -> (role, exp)


def db():
    if not hasattr(local, "conn"):
        local.conn = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True, check_same_thread=False)
    return local.conn


def authorize(context):
    header = dict(context.invocation_metadata()).get("authorization", "")
    if not header.startswith("Bearer "):
        return "missing bearer token"
    token = header[7:]
    hit = verified.get(token)
    if hit is None or hit[1] <= time.time():
        try:
            claims = jwt.decode(token, PUBLIC_KEY, algorithms=["EdDSA"], issuer="fixpoint")
        except jwt.PyJWTError as e:
            return f"invalid token: {e}"
        hit = verified[token] = (claims.get("role"), claims["exp"])
    return None if hit[0] in READERS else "permission denied"


def get_alert(request):
    row = db().execute("SELECT id, title, body, severity, status, event_id, event_type, subject, source, created_at FROM alert WHERE id = ?",
                       (request.alert_id,)).fetchone()
    if row is None:
        return None
    alert = no.Alert(id=row[0], title=row[1], body=row[2], severity=row[3], status=row[4], event_id=row[5] or "",
                     event_type=row[6], subject=row[7], source=row[8])
    alert.created_at.FromSeconds(int(row[9]))
    return alert


class Sync(no_g.NotifierServiceServicer):
    def GetAlert(self, request, context):
        problem = authorize(context)
        if problem:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
        alert = get_alert(request)
        if alert is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "alert not found")
        return alert


class Aio(no_g.NotifierServiceServicer):
    async def GetAlert(self, request, context):
        problem = authorize(context)
        if problem:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
        alert = get_alert(request)
        if alert is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "alert not found")
        return alert


if a.mode == "sync":
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    no_g.add_NotifierServiceServicer_to_server(Sync(), server)
    server.add_insecure_port(f"127.0.0.1:{a.port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()
else:
    import asyncio

    async def main():
        server = grpc.aio.server()
        no_g.add_NotifierServiceServicer_to_server(Aio(), server)
        server.add_insecure_port(f"127.0.0.1:{a.port}")
        await server.start()
        print("ready", flush=True)
        await server.wait_for_termination()

    asyncio.run(main())
