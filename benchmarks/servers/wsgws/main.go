// Command wsgws is the WebSocket echo server on github.com/lxzan/gws: its
// own gws.Server (net.Listen, one goroutine per connection running
// ReadLoop), default options (no compression, no parallel message
// handling), every message written back with the same opcode.
//
// A text message starting with "broadcast" is sent to every open
// connection through one gws.Broadcaster (framed once, queued on each
// connection's write queue; see internal/wsbcast).
//
// -loops N sets GOMAXPROCS (0: Go's default).
//
//	go run ./servers/wsgws -addr 127.0.0.1:9000 -loops 1
package main

import (
	"bytes"
	"flag"
	"log"
	"runtime"

	"github.com/lxzan/gws"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/wsbcast"
)

// handler echoes and broadcasts; its methods run on each connection's
// ReadLoop goroutine.
type handler struct {
	gws.BuiltinEventHandler
	conns wsbcast.Set[*gws.Conn]
}

func (h *handler) OnOpen(c *gws.Conn) { h.conns.Add(c) }

func (h *handler) OnClose(c *gws.Conn, _ error) { h.conns.Remove(c) }

func (h *handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	p := m.Bytes()
	if wsbcast.IsTrigger(m.Opcode == gws.OpcodeText, p) {
		b := gws.NewBroadcaster(gws.OpcodeText, bytes.Clone(p)) // p goes back to a pool on return
		for _, o := range h.conns.Snapshot(nil) {
			_ = b.Broadcast(o)
		}
		_ = b.Close()
		return
	}
	_ = c.WriteMessage(m.Opcode, p)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "GOMAXPROCS (0 = Go's default)")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	if *loops > 0 {
		runtime.GOMAXPROCS(*loops)
	}
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	srv := gws.NewServer(&handler{}, nil)
	log.Fatal(srv.Run(*addr))
}
