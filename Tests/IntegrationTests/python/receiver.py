"""A real HTTP receiver for the notifier's tests: a Standard Webhooks endpoint or a Slack stand-in.

  receiver.py --port P --log FILE [--secrets FILE] [--script FILE]

Every POST is appended to --log as one JSON line: path, lower-cased headers, body, the answer
given and, with --secrets (one whsec_ secret per line, re-read on each request), which of the
secrets verify it with PyPI `standardwebhooks` (the independent verifier; any failure is recorded,
never hidden). --script (re-read on each request) is a JSON list of answers taken in order, one per
request: {"status": 429, "body": "rate_limited", "retry_after": 2}; past its end every answer is
200 with body "ok" (what Slack answers, and a 2xx for webhooks). "delay": seconds to wait before
answering (the request is logged first, as a receiver that took it but whose answer was lost).
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--secrets")
parser.add_argument("--script")
args = parser.parse_args()

lock = threading.Lock()
count = [0]


def read_lines(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = []
        errors = []
        for i, secret in enumerate(read_lines(args.secrets)):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(i)
            except WebhookVerificationError as e:
                errors.append(f"{i}: {e}")
            except Exception as e:  # a malformed secret or header is recorded, not hidden
                errors.append(f"{i}: {type(e).__name__}: {e}")
        with lock:
            n = count[0]
            count[0] += 1
            script = []
            if args.script and os.path.exists(args.script):
                with open(args.script) as f:
                    script = json.load(f)
            answer = script[n] if n < len(script) else {"status": 200, "body": "ok"}
            with open(args.log, "a") as f:
                f.write(json.dumps({
                    "n": n, "path": self.path, "headers": headers, "body": body.decode("utf-8", "replace"),
                    "verified": verified, "errors": errors, "answered": answer["status"], "time": time.time(),
                }) + "\n")
        if "delay" in answer:
            time.sleep(answer["delay"])
        payload = answer.get("body", "").encode()
        self.send_response(answer["status"])
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if "retry_after" in answer:
            self.send_header("Retry-After", str(answer["retry_after"]))
        self.end_headers()
        self.wfile.write(payload)


ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("listening", flush=True)
server.serve_forever()
