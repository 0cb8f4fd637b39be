#!/usr/bin/env python3
"""A TCP relay for the outage tests: forwards each connection made to 127.0.0.1:PORT to 127.0.0.1
at the port written in TARGET_FILE (read per connection, so a test can name it once the target
runs). Killing the relay drops every connection through it and refuses new ones: the target is
unreachable for its clients while it keeps running; starting the relay again on the same port
brings it back.

usage: tcp_relay.py --port PORT --target-file FILE"""
import argparse
import asyncio

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--target-file", required=True)
args = p.parse_args()


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        with open(args.target_file) as f:
            port = int(f.read().strip())
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, ValueError):
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
