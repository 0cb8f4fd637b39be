#!/usr/bin/env python3
"""A fault-injecting proxy in front of moto_server: answers AWS throttling errors, shaped the way each
protocol shapes them, for the next N calls, and forwards everything else untouched.

usage: fault_proxy.py LISTEN_PORT UPSTREAM_URL
  POST /_fault {"count": N}  the next N AWS calls are throttled
  POST /_fault {"delay": SECONDS}  from now on, every forwarded call waits this long first (0 lifts it)
  POST /_fault {"deny": [REGEX, …]}  from now on, calls whose "SERVICE METHOD PATH" matches one of them
                             are answered AccessDenied in their protocol's shape ([] lifts it)
  GET  /_fault               {"pending": n, "served": n, "forwarded": n, "writes": {"PUT /bucket?publicAccessBlock": n, …},
                              "reads": {"GET /bucket?publicAccessBlock": n, …}, "writes_at_once": n (the most S3 writes in flight together),
                              "s3_by_key": {ACCESS_KEY_ID: {"reads": n, "writes": n}},
                              "assumed": {ACCESS_KEY_ID: ROLE_ARN}}   (who signed S3 calls; whose keys STS AssumeRole gave)
"""
import http.client
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

port, upstream = int(sys.argv[1]), urlsplit(sys.argv[2])
lock = threading.Lock()
state = {"pending": 0, "served": 0, "forwarded": 0, "denied": 0, "deny": [], "delay": 0.0, "writes": {}, "reads": {}, "writing": 0, "writes_at_once": 0,
         "s3_by_key": {}, "assumed": {}}

# service signing name -> (status, content type, body, extra headers)
XML_QUERY = '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>'
SHAPES = {
    "ec2": (503, "text/xml", '<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>', {}),
    "iam": (400, "text/xml", XML_QUERY, {}),
    "sts": (400, "text/xml", XML_QUERY, {}),
    "rds": (400, "text/xml", XML_QUERY, {}),
    "s3": (503, "application/xml", "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>", {}),
    "kms": (400, "application/x-amz-json-1.1", '{"__type":"ThrottlingException","message":"Rate exceeded"}', {"X-Amzn-ErrorType": "ThrottlingException"}),
    "cloudtrail": (400, "application/x-amz-json-1.1", '{"__type":"ThrottlingException","message":"Rate exceeded"}', {"X-Amzn-ErrorType": "ThrottlingException"}),
    "guardduty": (429, "application/json", '{"message":"Too many requests","__type":"TooManyRequestsException"}', {"x-amzn-ErrorType": "TooManyRequestsException"}),
}
XML_QUERY_DENIED = '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized</Message></Error><RequestId>r</RequestId></ErrorResponse>'
DENIED = {
    "ec2": (403, "text/xml", '<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>', {}),
    "iam": (403, "text/xml", XML_QUERY_DENIED, {}),
    "rds": (403, "text/xml", XML_QUERY_DENIED, {}),
    "s3": (403, "application/xml", "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", {}),
    "kms": (400, "application/x-amz-json-1.1", '{"__type":"AccessDeniedException","message":"not authorized"}', {"X-Amzn-ErrorType": "AccessDeniedException"}),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, ctype, body, headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_fault"):
            with lock:
                if self.command == "POST":
                    asked = json.loads(body or b"{}")
                    if "count" in asked:
                        state["pending"] = int(asked["count"])
                    if "delay" in asked:
                        state["delay"] = float(asked["delay"])
                    if "deny" in asked:
                        state["deny"] = list(asked["deny"])
                self._reply(200, "application/json", json.dumps(state))
            return
        match = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request", self.headers.get("Authorization", ""))
        service = match.group(1) if match else "s3"
        call = f"{service} {self.command} {self.path}"
        with lock:
            denied = any(re.search(p, call) for p in state["deny"])
            if denied:
                state["denied"] += 1
        if denied:
            status, ctype, payload, headers = DENIED.get(service, DENIED["s3"])
            self._reply(status, ctype, payload, headers)
            return
        with lock:
            fault = state["pending"] > 0
            if fault:
                state["pending"] -= 1
                state["served"] += 1
            else:
                state["forwarded"] += 1
                s3_write = self.command not in ("GET", "HEAD") and service == "s3"
                if service == "s3":  # S3 reads and writes, counted per bucket and sub-resource
                    key = f"{self.command} {self.path.split('=')[0]}"
                    counts = state["writes" if s3_write else "reads"]
                    counts[key] = counts.get(key, 0) + 1
                if s3_write:
                    state["writing"] += 1
                    state["writes_at_once"] = max(state["writes_at_once"], state["writing"])
                signer = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
                if service == "s3" and signer:
                    by_key = state["s3_by_key"].setdefault(signer.group(1), {"reads": 0, "writes": 0})
                    by_key["reads" if self.command in ("GET", "HEAD") else "writes"] += 1
        if fault:
            status, ctype, payload, headers = SHAPES.get(service, SHAPES["s3"])
            self._reply(status, ctype, payload, headers)
            return
        try:
            if state["delay"]:
                time.sleep(state["delay"])
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            if s3_write:
                with lock:
                    state["writing"] -= 1
        if service == "sts" and b"Action=AssumeRole" in body:
            role = re.search(rb"RoleArn=([^&]+)", body)
            key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
            if role and key:
                from urllib.parse import unquote
                with lock:
                    state["assumed"][key.group(1).decode()] = unquote(role.group(1).decode())
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
