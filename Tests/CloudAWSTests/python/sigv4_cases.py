#!/usr/bin/env python3
"""Random requests signed by botocore's own signer, for the Swift signer to match byte for byte.

usage: sigv4_cases.py SEED COUNT  -> a JSON array on stdout. Each case has the raw inputs (method,
host, port, path segments, query pairs, headers, body, credentials, service, region, timestamp) and
what botocore computed: the canonical request and the Authorization header."""
import base64
import json
import random
import sys
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
CHARS = "abcXYZ019-_.~ /+=&%:@!*'()$,;?#[]ü€ä日本"


def text(lo, hi):
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(lo, hi)))


def aws_quote(s):
    return quote(s, safe="-_.~")


cases = []
for _ in range(count):
    service = rng.choice(["ec2", "iam", "sts", "rds", "s3", "kms", "cloudtrail", "guardduty"])
    region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
    host = rng.choice(["127.0.0.1", "example.amazonaws.com", "s3.eu-west-1.amazonaws.com"])
    port = rng.choice([None, 80, 5123, 443])
    segments = [rng.choice([text(0, 6), ".", "..", ""]) if rng.random() < 0.2 else text(1, 8) for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(aws_quote(s) for s in segments)
    query = [(text(1, 6), text(0, 6)) for _ in range(rng.randint(0, 4))]
    if query and rng.random() < 0.3:
        query.append((query[0][0], text(0, 4)))  # a repeated key
    headers = {}
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(["X-Amz-Meta-", "My-Header", "Content-Type", "x-amz-target", "User-Agent", "X-Custom-"]) + text(0, 2).strip().replace(" ", "")
        name = "".join(c for c in name if c.isascii() and (c.isalnum() or c == "-")) or "X-Empty"
        value = rng.choice(["  padded   value  ", "a\tb", "plain", "application/x-amz-json-1.1", text(0, 10).encode("ascii", "ignore").decode()])
        headers[name] = value
    body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 5, 64, 300])))
    token = rng.choice([None, "FQoGZXIvYXdzE" + text(5, 10).encode("ascii", "ignore").decode()])
    creds = Credentials("AKIA" + "".join(rng.choice("ABCDEFGHIJ0123456789") for _ in range(16)),
                        "".join(rng.choice("abcdefABCDEF0123456789/+") for _ in range(40)), token)
    timestamp = f"20{rng.randint(15, 30)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}Z"

    netloc = host if port is None else f"{host}:{port}"
    url = f"http://{netloc}{path}"
    if query:
        url += "?" + "&".join(f"{aws_quote(k)}={aws_quote(v)}" for k, v in query)
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    request.context["timestamp"] = timestamp
    auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    signed = auth.signed_headers(auth.headers_to_sign(request))
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    cases.append({
        "service": service, "region": region, "method": method, "host": host, "port": port, "path": path,
        "query": query, "headers": list(headers.items()), "body": base64.b64encode(body).decode(),
        "access_key": creds.access_key, "secret_key": creds.secret_key, "token": token, "timestamp": timestamp,
        "canonical_request": canonical,
        "authorization": f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}",
    })
json.dump(cases, sys.stdout)
