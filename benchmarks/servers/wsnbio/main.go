// Command wsnbio is the WebSocket echo server on nbio's nbhttp and
// github.com/lesismal/nbio/nbhttp/websocket: the HTTP upgrade and the
// frames are parsed on nbio's pollers, and OnMessage runs as nbhttp
// schedules it by default (its message-handler task pool). Every message
// is written back with the same opcode (any path, no compression).
//
// A text message starting with "broadcast" is written to every open
// connection with Conn.WriteMessage in a loop (nbio has no prepared or
// broadcast message: each connection frames it again; see
// internal/wsbcast).
//
// -loops N sets the number of pollers (NPoller) and GOMAXPROCS (0: one
// poller per CPU and Go's default).
//
//	go run ./servers/wsnbio -addr 127.0.0.1:9000 -loops 1
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/wsbcast"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "pollers and GOMAXPROCS (0 = one per CPU)")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	n := *loops
	if n > 0 {
		runtime.GOMAXPROCS(n)
	} else {
		n = runtime.NumCPU()
	}
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	var conns wsbcast.Set[*websocket.Conn]
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.OnOpen(conns.Add)
	u.OnClose(func(c *websocket.Conn, _ error) { conns.Remove(c) })
	u.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, p []byte) {
		if wsbcast.IsTrigger(mt == websocket.TextMessage, p) {
			for _, o := range conns.Snapshot(nil) {
				_ = o.WriteMessage(websocket.TextMessage, p)
			}
			return
		}
		_ = c.WriteMessage(mt, p)
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = u.Upgrade(w, r, nil) // on failure Upgrade has answered
	})
	eng := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{*addr}, NPoller: n, Handler: handler})
	if err := eng.Start(); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	eng.Stop()
	if err := cpuprof.Stop(); err != nil {
		log.Fatal(err)
	}
}
