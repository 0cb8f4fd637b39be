"""moto_server, as `moto_server -H 127.0.0.1 -p PORT` runs it, timing each request by AWS operation.

Benchmark support, not a test. moto serves one request at a time, so the CPU its handlers spend per
operation says which calls a side's wall time is made of. On SIGUSR1 it writes, to the file named by
the second argument, {"service:Operation": [calls, handler CPU seconds]} for the requests since the
previous SIGUSR1 (or the start), then starts counting afresh.

    python3 moto_profiled.py PORT OUT.json
"""
import io
import json
import os
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

port, out = int(sys.argv[1]), sys.argv[2]
os.environ.setdefault("MOTO_PORT", str(port))
stats, lock = {}, threading.Lock()


def operation(environ, body):
    """service:Operation for query and JSON protocols; service:METHOD level?subresource for S3's REST."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = auth.split("/")[3] if auth.count("/") >= 4 else "?"  # the SigV4 credential scope
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.split('.')[-1]}"
    if environ["REQUEST_METHOD"] == "POST" and b"Action=" in body[:4096]:
        return f"{service}:{parse_qs(body.decode(errors='replace')).get('Action', ['?'])[0]}"
    query = environ.get("QUERY_STRING", "")
    sub = ",".join(sorted(k.split("=")[0] for k in query.split("&") if k))
    path = environ.get("PATH_INFO", "").strip("/")
    level = "account" if not path else ("bucket" if "/" not in path else "object")
    return f"{service}:{environ['REQUEST_METHOD']} {level}?{sub}"


app = DomainDispatcherApplication(create_backend_app)
app.debug = True


def timed(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    key = operation(environ, body)
    started = time.thread_time()
    answer = list(app(environ, start_response))
    spent = time.thread_time() - started
    with lock:
        entry = stats.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += spent
    return answer


def dump(*_):
    with lock:
        snapshot = dict(stats)
        stats.clear()
    with open(out, "w") as f:
        json.dump(snapshot, f)


signal.signal(signal.SIGUSR1, dump)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
run_simple("127.0.0.1", port, timed, threaded=True)
