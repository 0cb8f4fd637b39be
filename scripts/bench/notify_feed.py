"""bench-notify's driver. Two modes, each timing event → receipt against notify_receiver.py:

  notify_feed.py fixpoint --proto DIR --port P --token T --count N --times FILE
      hands N compliance.violation events (one per resource) to the notifier's EventSink in
      batches of 1000, recording each event's send time in FILE.
  notify_feed.py plain --url URL --secret-file F --sample FILE --count N --times FILE [--concurrency C]
      the baseline: the same N signed POSTs (Standard Webhooks headers, HMAC-SHA256; the body the
      notifier sent, from the receiver's `sample` in FILE, naming each resource in turn) sent by a
      plain aiohttp client with C in flight, recording each one's start time in FILE.
"""
import argparse, asyncio, base64, hashlib, hmac, json, os, sys, tempfile, time, uuid

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["fixpoint", "plain"])
p.add_argument("--proto")
p.add_argument("--port", type=int)
p.add_argument("--token")
p.add_argument("--url")
p.add_argument("--secret-file")
p.add_argument("--sample")
p.add_argument("--count", type=int, required=True)
p.add_argument("--times", required=True)
p.add_argument("--concurrency", type=int, default=64)
a = p.parse_args()
times = {}

if a.mode == "fixpoint":
    import grpc
    from grpc_tools import protoc
    out = tempfile.mkdtemp()
    inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    ps = [os.path.relpath(os.path.join(r, f), a.proto) for r, _, fs in os.walk(a.proto) for f in fs if f.endswith(".proto")]
    protoc.main(["protoc", f"-I{a.proto}", f"-I{inc}", f"--python_out={out}", f"--grpc_python_out={out}", *ps])
    sys.path.insert(0, out)
    from fixpoint.v1 import events_pb2 as ev, events_pb2_grpc as eg, common_pb2 as c
    stub = eg.EventSinkStub(grpc.insecure_channel(f"127.0.0.1:{a.port}", options=[("grpc.max_send_message_length", 64 << 20)]))
    md = [("authorization", f"Bearer {a.token}")]
    for start in range(0, a.count, 1000):
        batch = []
        for n in range(start, min(a.count, start + 1000)):
            # An id as Fixpoint's own services make them (RandomID.make): time in ms, then random.
            e = ev.Event(id=f"evt_{int(time.time() * 1000):012x}{os.urandom(6).hex()}", type="compliance.violation", source="compliance", subject=f"res_{n}",
                         severity=c.SEVERITY_HIGH)
            e.time.GetCurrentTime()
            v = e.compliance_violation
            v.result_id, v.control_id, v.assessment_id = f"rsl_{n}", "S3.8", "asm_bench"
            v.resource.resource_id, v.resource.external_id, v.resource.provider_id = f"res_{n}", f"arn:aws:s3:::bench-{n}", "prv_bench"
            v.reason, v.title = "public access block off", "S3 general purpose buckets should block public access"
            batch.append(e)
        sent = time.time()
        for n in range(start, min(a.count, start + 1000)):
            times[f"arn:aws:s3:::bench-{n}"] = sent
        stub.DeliverEvents(ev.DeliverEventsRequest(events=batch), metadata=md, timeout=120)
else:
    import aiohttp
    secret = open(a.secret_file).read().strip()[len("whsec_"):]
    key = base64.b64decode(secret + "=" * (-len(secret) % 4))
    # The notifier's own body for one resource; each POST names its resource in its place.
    sample = json.load(open(a.sample))["sample"]
    named = sample[sample.find('"resource":"') + 12:].split('"', 1)[0]

    async def main():
        queue = asyncio.Queue()
        for n in range(a.count):
            queue.put_nowait(n)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=a.concurrency)) as session:
            async def worker():
                while not queue.empty():
                    n = queue.get_nowait()
                    resource = f"arn:aws:s3:::bench-{n}"
                    times[resource] = time.time()
                    body = sample.replace(named, resource).encode()
                    wid, ts = "msg_" + uuid.uuid4().hex[:20], str(int(time.time()))
                    sig = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
                    headers = {"content-type": "application/json", "user-agent": "fixpoint-notifier", "webhook-id": wid, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}"}
                    while True:
                        try:
                            async with session.post(a.url, data=body, headers=headers) as r:
                                await r.read()
                                if r.status == 200:
                                    break
                        except aiohttp.ClientError:
                            await asyncio.sleep(0.01)
            await asyncio.gather(*[worker() for _ in range(a.concurrency)])
    asyncio.run(main())
json.dump(times, open(a.times, "w"))
