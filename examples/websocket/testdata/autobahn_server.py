"""An Autobahn|Python (Debian python3-autobahn) echo server, for testing
mill's WebSocket client against the library Autobahn|Testsuite is built
on: strict about masking, UTF-8 and the close handshake, and it accepts
a permessage-deflate offer with the parameters the client asked for.

    python3 autobahn_server.py

It listens on 127.0.0.1 on a port of the system's choosing, prints
"port N", then for each connection "deflate negotiated" or "no
extension", echoes every message with its opcode, and prints "closed
CLEAN CODE" when it ends. It exits when its standard input ends.
"""

import asyncio
import sys

from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept


class Echo(WebSocketServerProtocol):
    def onConnect(self, request):
        return None

    def onOpen(self):
        pmd = self._perMessageCompress
        print("deflate negotiated: %r" % pmd if pmd else "no extension", flush=True)

    def onMessage(self, payload, isBinary):
        self.sendMessage(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        print("closed", wasClean, code, flush=True)


def accept(offers):
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


async def main():
    loop = asyncio.get_running_loop()
    f = WebSocketServerFactory()
    f.protocol = Echo
    f.setProtocolOptions(perMessageCompressionAccept=accept, utf8validateIncoming=True,
                         requireMaskedClientFrames=True, failByDrop=False,
                         closeHandshakeTimeout=10, maxMessagePayloadSize=8 << 20)
    server = await loop.create_server(f, "127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    # Serve until standard input ends (the test closes it, or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
