// Command wsgorilla is the WebSocket echo server on gorilla/websocket over
// net/http: one goroutine per connection reads each message into a reused
// buffer and writes it back with the same opcode (any path, no
// compression, the Upgrader's default buffer sizes).
//
// A text message starting with "broadcast" is instead framed once as a
// websocket.PreparedMessage and written to every open connection in turn
// from the reading goroutine (see internal/wsbcast).
//
// -loops N sets GOMAXPROCS (0: Go's default).
//
//	go run ./servers/wsgorilla -addr 127.0.0.1:9000 -loops 1
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/wsbcast"
)

// conn is one connection with the lock that serialises its writes
// (gorilla allows one writer at a time).
type conn struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (c *conn) write(op int, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteMessage(op, p)
}

func (c *conn) writePrepared(pm *websocket.PreparedMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WritePreparedMessage(pm)
}

var (
	conns    wsbcast.Set[*conn]
	upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
)

func serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws}
	conns.Add(c)
	defer func() {
		conns.Remove(c)
		ws.Close()
	}()
	var buf bytes.Buffer
	var peers []*conn
	for {
		op, rd, err := ws.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		p := buf.Bytes()
		if wsbcast.IsTrigger(op == websocket.TextMessage, p) {
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, p)
			if err != nil {
				return
			}
			peers = conns.Snapshot(peers[:0])
			for _, o := range peers {
				_ = o.writePrepared(pm) // a failed peer's reader ends it
			}
			clear(peers)
			continue
		}
		if err := c.write(op, p); err != nil {
			return
		}
	}
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(ln, http.HandlerFunc(serve)))
}
