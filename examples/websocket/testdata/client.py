"""Drives the websocket echo example with the Python websockets library.

Run by the Go tests (tools_test.go) with Debian's /usr/bin/python3:

    python3 client.py URL echo deflate|plain
    python3 client.py URL shutdown
    python3 client.py URL toobig BYTES

Each check prints "ok <name>"; a failed check raises, which exits 1.
For wss:// URLs the server's certificate is not verified (the tests
serve a throw-away self-signed one).
"""

import asyncio
import os
import ssl
import sys

import websockets
from websockets.exceptions import ConnectionClosed


def connect(url, **kw):
    if url.startswith("wss://"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        kw["ssl"] = ctx
    # websockets offers permessage-deflate unless compression=None.
    return websockets.connect(url, max_size=32 << 20, open_timeout=10, close_timeout=5, **kw)


def ok(name):
    print("ok", name, flush=True)


async def echo(url, want_deflate):
    async with connect(url) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
        names = [e.name for e in ws.extensions]
        if want_deflate:
            assert names == ["permessage-deflate"], (names, ext)
            assert ext is not None and ext.startswith("permessage-deflate"), ext
            ok("deflate negotiated: " + ext)
        else:
            assert names == [] and ext is None, (names, ext)
            ok("no extension")

        await ws.send("héllo, wörld ✓")
        got = await ws.recv()
        assert got == "héllo, wörld ✓", got
        ok("text")

        data = bytes(range(256)) * 4
        await ws.send(data)
        got = await ws.recv()
        assert isinstance(got, bytes) and got == data, len(got)
        ok("binary")

        await ws.send(b"")
        got = await ws.recv()
        assert got == b"", got
        await ws.send("")
        got = await ws.recv()
        assert got == "", got
        ok("empty")

        # 1 MiB of random bytes (deflate cannot shrink them) and 1 MiB of
        # text that compresses well: both must come back whole.
        big = os.urandom(1 << 20)
        await ws.send(big)
        got = await ws.recv()
        assert got == big, len(got)
        ok("1 MiB binary")
        text = "".join("line %d of a long message\n" % i for i in range(40000))[: 1 << 20]
        await ws.send(text)
        got = await ws.recv()
        assert got == text, len(got)
        ok("1 MiB text")

        # Several messages in flight at once come back in order.
        msgs = ["message %d " % i * (i + 1) for i in range(50)]
        for m in msgs:
            await ws.send(m)
        for m in msgs:
            got = await ws.recv()
            assert got == m, (got, m)
        ok("50 in flight")

        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        ok("ping")

        await ws.close(code=4000, reason="done here")
        # The server answers with the same code (RFC 6455 §5.5.1); it
        # need not repeat the reason.
        assert ws.close_code == 4000, ws.close_code
        ok("close 4000 echoed")


async def shutdown(url):
    async with connect(url) as ws:
        print("open", flush=True)
        try:
            got = await asyncio.wait_for(ws.recv(), 20)
            raise AssertionError("a message instead of a close: %r" % got)
        except ConnectionClosed:
            pass
        print("closed", ws.close_code, ws.close_reason, flush=True)


async def toobig(url, limit):
    async with connect(url) as ws:
        await ws.send(b"x" * limit)
        got = await ws.recv()
        assert len(got) == limit, len(got)
        ok("at the limit")
        await ws.send(b"x" * (limit + 1))
        try:
            got = await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError("an echo of %d bytes past the limit" % len(got))
        except ConnectionClosed:
            pass
        assert ws.close_code == 1009, ws.close_code
        ok("1009 past the limit")


def main():
    url, mode = sys.argv[1], sys.argv[2]
    if mode == "echo":
        asyncio.run(echo(url, sys.argv[3] == "deflate"))
    elif mode == "shutdown":
        asyncio.run(shutdown(url))
    elif mode == "toobig":
        asyncio.run(toobig(url, int(sys.argv[3])))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
