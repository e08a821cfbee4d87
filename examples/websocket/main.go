// Command websocket is a WebSocket echo server on mill: every message a
// client sends comes back as it was received, with the same opcode and
// the same payload, on any path. It is what conformance suites and load
// generators point at.
//
//	go run ./examples/websocket -addr 127.0.0.1:9001 -loops 0
//
// -deflate accepts permessage-deflate (RFC 7692) when a client offers
// it; -max-message bounds a message (larger ones close the connection
// with 1009). With -tls-self-signed (or -tls-cert and -tls-key) it
// serves wss:// instead of ws://, and a SIGHUP reloads -tls-cert and
// -tls-key without a restart:
//
//	go run ./examples/websocket -tls-self-signed
//
// SIGINT or SIGTERM shuts it down gracefully: every client gets a close
// frame with 1001 (going away). See README.md for clients to try it
// with.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
	"github.com/mill-io/mill/websocket"
)

// echo is the websocket.Handler: it writes every message back.
type echo struct{}

// OnOpen does nothing: an echo has no per-connection state.
func (echo) OnOpen(*websocket.Conn) {}

// OnMessage writes the message back on the connection's loop, with the
// same opcode. payload is copied by the write (or compressed into a
// buffer of the connection's), so it need not outlive the call. A write
// fails only when the connection is closing or broken, and then OnClose
// follows: there is nothing to do here.
func (echo) OnMessage(c *websocket.Conn, op websocket.Opcode, payload []byte) {
	_ = c.WriteMessage(op, payload)
}

// OnClose does nothing: the connection's end needs no clean-up.
func (echo) OnClose(*websocket.Conn, error) {}

// config is what the flags set.
type config struct {
	loops      int
	maxMessage int
	deflate    bool
	context    bool        // with deflate: keep our compressor's context
	batch      bool        // mill.WithWriteBatching
	tls        *tls.Config // nil: plaintext (ws://)
}

// defaults are the flags' defaults.
var defaults = config{maxMessage: websocket.DefaultMaxMessage, batch: true}

// newServer makes the mill server that serves the echo on addr, a
// websocket.Server as its handler.
func newServer(cfg config, addr string, extra ...mill.Option) (*mill.Server, error) {
	wsOpts := []websocket.Option{websocket.WithMaxMessage(cfg.maxMessage)}
	switch {
	case cfg.context && !cfg.deflate:
		return nil, errors.New("-deflate-context needs -deflate")
	case cfg.deflate:
		wsOpts = append(wsOpts, websocket.WithCompression(websocket.Compression{Enabled: true, ContextTakeover: cfg.context}))
	}
	ws, err := websocket.NewServer(echo{}, wsOpts...)
	if err != nil {
		return nil, err
	}
	// With write batching, the echoes of all the messages one read
	// brought go out with one system call per connection, after the loop
	// has read everything ready: a client that sends bursts gets several
	// times the messages/s (docs/benchmarks.md, ws-echo-p16).
	opts := []mill.Option{mill.WithLoops(cfg.loops), mill.WithWriteBatching(cfg.batch)}
	if cfg.tls != nil {
		opts = append(opts, mill.WithTLS(cfg.tls))
	}
	return mill.NewServer(ws, addr, append(opts, extra...)...)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	cfg := defaults
	flag.IntVar(&cfg.loops, "loops", 0, "event loops (0: one per CPU)")
	flag.IntVar(&cfg.maxMessage, "max-message", defaults.maxMessage, "largest message in bytes, after decompression (larger: close with 1009)")
	flag.BoolVar(&cfg.deflate, "deflate", false, "accept permessage-deflate when a client offers it")
	flag.BoolVar(&cfg.context, "deflate-context", false, "with -deflate, keep the compressor's context from message to message (better ratios for similar messages; a compressor held by every compressed connection)")
	flag.BoolVar(&cfg.batch, "batch", defaults.batch, "batch writes (mill.WithWriteBatching): one system call for the echoes of one read")
	tlsFlags := tlsflag.Register(flag.CommandLine)
	flag.Parse()

	certs, err := tlsFlags.Load(nil, "http/1.1") // the upgrade request is HTTP/1.1
	if err != nil {
		log.Fatal(err)
	}
	cfg.tls = certs.Config()
	s, err := newServer(cfg, *addr)
	if err != nil {
		log.Fatal(err)
	}
	if certs != nil {
		defer certs.ReloadOnSIGHUP()()
		log.Printf("serving %s", certs.Describe())
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		// Shutdown calls the websocket.Server's OnShutdown, which sends
		// every client a close frame with 1001, then drains.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	scheme := "ws"
	if certs != nil {
		scheme = "wss"
	}
	log.Printf("websocket echo server listening on %s://%s/ (deflate %v, max message %d bytes)",
		scheme, s.Addr(), cfg.deflate, cfg.maxMessage)
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
