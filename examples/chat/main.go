// Command chat is a chat room on mill: one port serves the page (GET /,
// HTML with an inline script) and the room's WebSocket (GET /ws), the
// HTTP side parsed by package http1 and the upgrade handed to a
// websocket.Server (Upgrade and Owns: WebSocket beside HTTP routes).
// Every message is relayed to every browser in the room, framed once
// (websocket.NewPrepared and Server.Broadcast).
//
//	go run ./examples/chat -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/ in two browser windows. Messages are
// JSON, {"text": "..."} from a browser and {"name": "...", "text":
// "..."} to every browser, with {"name": "...", "event": "join"} (or
// "leave") when someone comes or goes; a name is given when joining,
// /ws?name=NAME. Texts are capped at 4 KiB and names at 32 characters.
// See README.md.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/websocket"
)

// newServer makes the chat's mill server on addr with loops event loops
// (0: one per CPU); httpTimeout bounds an HTTP connection's silence and
// an unfinished request (see server.httpTimeout).
func newServer(addr string, loops int, httpTimeout time.Duration, extra ...mill.Option) (*mill.Server, error) {
	rm := &room{}
	ws, err := websocket.NewServer(rm,
		websocket.WithMaxMessage(maxMessage),
		websocket.WithAccept(rm.accept),
		// A browser that vanished (a laptop closed) is noticed within
		// two minutes and leaves the room.
		websocket.WithPingInterval(time.Minute),
	)
	if err != nil {
		return nil, err
	}
	rm.ws = ws
	// Upgrade requests are small: a tight head limit, and no bodies.
	h := &server{ws: ws, lim: http1.Limits{MaxHead: 8 << 10, MaxBody: 1}, httpTimeout: httpTimeout}
	return mill.NewServer(h, addr, append([]mill.Option{mill.WithLoops(loops)}, extra...)...)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	httpTimeout := flag.Duration("http-timeout", 10*time.Second, "close an HTTP connection (one not upgraded) silent for this long, or whose request stays unfinished this long")
	flag.Parse()
	if *httpTimeout <= 0 {
		log.Fatal("-http-timeout must be positive")
	}

	s, err := newServer(*addr, *loops, *httpTimeout)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		// Every browser gets a close frame with 1001 (going away).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	log.Printf("chat listening on http://%s/", s.Addr())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
