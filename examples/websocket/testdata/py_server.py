"""A Python websockets (Debian python3-websockets 10.4) echo server with
the library's defaults, compression included (it answers a
permessage-deflate offer with server_max_window_bits=12, and
client_max_window_bits=12 when the client offers that parameter), for
testing mill's WebSocket client against it.

    python3 py_server.py

It listens on 127.0.0.1 on a port of the system's choosing, prints
"port N", then for each connection "deflate negotiated" or "no
extension", echoes every message, and prints "closed CLEAN CODE" when it
ends. It exits when its standard input ends.
"""

import asyncio
import sys

import websockets
from websockets.exceptions import ConnectionClosedOK


async def echo(ws):
    ext = ws.response_headers.get("Sec-WebSocket-Extensions")
    print("deflate negotiated: " + ext if ext else "no extension", flush=True)
    clean = True
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed as e:
        clean = isinstance(e, ConnectionClosedOK)
    print("closed", clean, ws.close_code, flush=True)


async def main():
    loop = asyncio.get_running_loop()
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=8 << 20) as server:
        print("port", server.sockets[0].getsockname()[1], flush=True)
        # Serve until standard input ends (the test closes it, or dies).
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
