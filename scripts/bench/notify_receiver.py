"""bench-notify's receiver: a fast aiohttp endpoint that checks every Standard Webhooks signature
(HMAC-SHA256 over id.timestamp.body with the whsec_ key) and records when each notification arrived.

  notify_receiver.py --port P --secret-file F --out FILE --expect N

Writes FILE (JSON) once N distinct webhook-ids have arrived, or on SIGTERM: per id the first receipt
time and the resource it is about, counts of requests, repeats and bad signatures, and the first body
received (`sample`), from which the plain client builds the same POSTs.
"""
import argparse, asyncio, base64, hashlib, hmac, json, signal, time
from aiohttp import web

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--secret-file", required=True)
p.add_argument("--out", required=True)
p.add_argument("--expect", type=int, required=True)
a = p.parse_args()
state = {"requests": 0, "repeats": 0, "bad": 0, "first": {}, "key": None, "sample": None}
done = asyncio.Event()


def key():
    if state["key"] is None:
        secret = open(a.secret_file).read().strip()
        text = secret[len("whsec_"):]
        state["key"] = base64.b64decode(text + "=" * (-len(text) % 4))
    return state["key"]


async def hook(request):
    body = await request.read()
    now = time.time()
    state["requests"] += 1
    h = request.headers
    wid, ts = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
    mac = base64.b64encode(hmac.new(key(), f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(s.split(",", 1)[-1], mac) for s in h.get("webhook-signature", "").split(" ")):
        state["bad"] += 1
        return web.Response(status=400, text="bad signature")
    if wid in state["first"]:
        state["repeats"] += 1
    else:
        resource = body[body.find(b'"resource":"') + 12:].split(b'"', 1)[0].decode()
        state["first"][wid] = (now, resource)
        if state["sample"] is None:
            state["sample"] = body.decode()
        if len(state["first"]) >= a.expect:
            done.set()
    return web.Response(text="ok")


async def main():
    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", a.port, backlog=1024).start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    print("ready", flush=True)
    await done.wait()
    json.dump({"requests": state["requests"], "repeats": state["repeats"], "bad": state["bad"], "first": state["first"],
               "sample": state["sample"]}, open(a.out, "w"))
    await runner.cleanup()

asyncio.run(main())
