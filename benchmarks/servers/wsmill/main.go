// Command wsmill is the WebSocket echo server on mill's websocket package:
// OnMessage writes every message back with the same opcode on the event
// loop (c.WriteMessage), any path, no compression.
//
// A text message starting with "broadcast" is framed once with
// websocket.NewPrepared and handed to websocket.Broadcast for every open
// connection (see internal/wsbcast).
//
// -loops N sets mill's event loops (0: one per CPU); -batch turns on
// mill.WithWriteBatching (contender wsmill-batch).
//
//	go run ./servers/wsmill -addr 127.0.0.1:9000 -loops 1
package main

import (
	"errors"
	"flag"
	"log"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/websocket"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/wsbcast"
)

// handler echoes and broadcasts; its methods run on the connection's
// event loop.
type handler struct {
	conns wsbcast.Set[*websocket.Conn] // OnOpen and OnClose run on several loops
}

func (h *handler) OnOpen(c *websocket.Conn) { h.conns.Add(c) }

func (h *handler) OnClose(c *websocket.Conn, _ error) { h.conns.Remove(c) }

func (h *handler) OnMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	if wsbcast.IsTrigger(op == websocket.OpText, p) {
		pm, err := websocket.NewPrepared(websocket.OpText, p)
		if err != nil {
			return
		}
		peers := h.conns.Snapshot(nil)
		websocket.Broadcast(peers, pm)
		return
	}
	_ = c.WriteMessage(op, p)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "event loops (0 = one per CPU)")
	batch := flag.Bool("batch", false, "mill.WithWriteBatching: the echoes of one read go out in one system call")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	ws, err := websocket.NewServer(&handler{}, websocket.WithMaxMessage(1<<20))
	if err != nil {
		log.Fatal(err)
	}
	s, err := mill.NewServer(ws, "tcp://"+*addr, mill.WithLoops(*loops), mill.WithWriteBatching(*batch))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Serve(); err != nil && !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
}
