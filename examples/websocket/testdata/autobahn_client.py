"""Drives the echo server with Autobahn|Python (Debian python3-autobahn),
the library Autobahn|Testsuite is built on, through the permessage-deflate
parameter matrix of the suite's sections 12 and 13: one connection per
set of offers, messages of 16 B to 128 KiB, some auto-fragmented into
256 B to 32 KiB frames, each echo checked by its SHA-1, then a clean
close.

    python3 autobahn_client.py ws://HOST:PORT/ context|no-context [COUNT]

The mode says whether the server keeps its compressor's context
(examples/websocket -deflate -deflate-context) or not (-deflate alone);
COUNT is the messages of each size (20).

Each check it passes prints "ok <name>"; a failed one prints "FAIL
<name>: why" and the script exits 1 at the end.
"""

import asyncio
import hashlib
import json
import random
import sys
from urllib.parse import urlparse

from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateResponse,
    PerMessageDeflateResponseAccept,
)

# (payload length, auto-fragment size); 0 sends each message as one frame.
SIZES = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (16384, 0), (65536, 0),
         (131072, 0), (8192, 256), (131072, 1024), (131072, 4096), (131072, 32768)]


def offer(no_context=False, bits=0):
    return PerMessageDeflateOffer(accept_no_context_takeover=True, accept_max_window_bits=True,
                                  request_no_context_takeover=no_context, request_max_window_bits=bits)


# name, offers, and which offer the server must accept (None: decline
# them all). It declines a server_max_window_bits below 15 (Go's
# compress/flate always uses a 32 KiB window); with an offer it accepts it
# answers server_max_window_bits=15 if asked for one, and
# server_no_context_takeover if asked, or always when it keeps no context
# (the echo without -deflate-context).
CASES = [
    ("no offer", [], None),
    ("default offer", [offer()], 0),
    ("server_no_context_takeover", [offer(no_context=True)], 0),
    ("server_max_window_bits=9", [offer(bits=9)], None),
    ("server_max_window_bits=15", [offer(bits=15)], 0),
    ("server_no_context_takeover, server_max_window_bits=9", [offer(True, 9)], None),
    ("server_no_context_takeover, server_max_window_bits=15", [offer(True, 15)], 0),
    ("three offers, the first declined", [offer(True, 9), offer(True), offer()], 1),
]


def test_data():
    """About 200 KB of JSON, the same on every run."""
    rnd = random.Random(17)
    words = ["mill", "loop", "reactor", "frame", "deflate", "message", "close", "ping", "pong", "buffer"]
    items = [{"id": i, "name": " ".join(rnd.choice(words) for _ in range(4)),
              "value": rnd.random(), "tags": rnd.sample(words, 3), "ok": rnd.random() < 0.5}
             for i in range(1500)]
    return json.dumps(items, indent=1).encode()


DATA = test_data()
failures = []


def ok(name):
    print("ok", name, flush=True)


def fail(name, why):
    failures.append(name)
    print("FAIL %s: %s" % (name, why), flush=True)


class Echo(WebSocketClientProtocol):
    def onOpen(self):
        f = self.factory
        pmd = self._perMessageCompress
        if f.accepted is None:
            if pmd is not None:
                fail(f.name, "the server accepted permessage-deflate: %r" % pmd)
        elif pmd is None:
            fail(f.name, "the server declined permessage-deflate")
        else:
            o = f.offers[f.accepted]
            want = (o.request_no_context_takeover or not f.context, 15)
            if (pmd.server_no_context_takeover, pmd.server_max_window_bits) != want:
                fail(f.name, "negotiated %r, want server_no_context_takeover, server_max_window_bits = %r" % (pmd, want))
        self.step, self.sent, self.pos = 0, 0, 0
        self.sendOne()

    def sendOne(self):
        f = self.factory
        if self.sent == f.count:
            self.step, self.sent = self.step + 1, 0
        if self.step == len(SIZES):
            self.sendClose(1000)
            return
        n, frag = SIZES[self.step]
        self.autoFragmentSize = frag
        end = self.pos + n
        msg = (DATA[self.pos:] + DATA[:end - len(DATA)]) if end > len(DATA) else DATA[self.pos:end]
        self.pos = end % len(DATA)
        self.want = hashlib.sha1(msg).digest()
        self.sendMessage(msg, isBinary=False)
        self.sent += 1

    def onMessage(self, payload, isBinary):
        if isBinary or hashlib.sha1(payload).digest() != self.want:
            fail(self.factory.name, "echo %d of size %d differs (binary %s, %d bytes)" % (
                self.sent, SIZES[self.step][0], isBinary, len(payload)))
            self.sendClose(1000)
            return
        self.sendOne()

    def onClose(self, wasClean, code, reason):
        f = self.factory
        if self.step != len(SIZES):
            if f.name not in failures:
                fail(f.name, "closed after %d of %d sizes: clean %s, code %s, %r" % (self.step, len(SIZES), wasClean, code, reason))
        elif not wasClean or code != 1000:
            fail(f.name, "close not clean: clean %s, code %s, %r" % (wasClean, code, reason))
        elif f.name not in failures:
            ok(f.name)
        f.done.set_result(None)


def accept(response):
    if isinstance(response, PerMessageDeflateResponse):
        return PerMessageDeflateResponseAccept(response)
    return None


async def run(url, context, count):
    u = urlparse(url)
    loop = asyncio.get_running_loop()
    for name, offers, accepted in CASES:
        f = WebSocketClientFactory(url)
        f.protocol = Echo
        f.setProtocolOptions(perMessageCompressionOffers=offers, perMessageCompressionAccept=accept,
                             utf8validateIncoming=True, failByDrop=False, openHandshakeTimeout=10,
                             closeHandshakeTimeout=10)
        f.name, f.offers, f.accepted, f.context, f.count = name, offers, accepted, context, count
        f.done = loop.create_future()
        transport, _ = await loop.create_connection(f, u.hostname, u.port)
        try:
            await asyncio.wait_for(f.done, 120)
        except asyncio.TimeoutError:
            fail(name, "no end within 120 s")
            transport.abort()


def main():
    url, mode = sys.argv[1], sys.argv[2]
    if mode not in ("context", "no-context"):
        sys.exit("the mode is context or no-context, not " + mode)
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    asyncio.run(run(url, mode == "context", count))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
