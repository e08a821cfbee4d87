// Command echo is a mill echo server: every byte a client sends comes
// straight back.
//
//	go run ./examples/echo -addr 127.0.0.1:9000 -loops 0
//
// Try it with: nc 127.0.0.1 9000
//
// With -tls-self-signed (or -tls-cert and -tls-key) it serves TLS on the
// address instead of plaintext:
//
//	go run ./examples/echo -tls-self-signed
//	openssl s_client -connect 127.0.0.1:9000 -quiet
//
// A SIGHUP reloads -tls-cert and -tls-key without a restart.
//
// It needs no pacing of its own: with mill's flow control (on by
// default) a client that sends faster than it reads is not read while
// its echo waits to go out, so TCP pushes back on it and nothing is lost
// or buffered without bound. A connection silent for -idle-timeout
// closes, and at most -max-conns are open at once.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

type echo struct{ mill.BuiltinHandler }

// OnTraffic writes back everything buffered. A write fails only when the
// connection is broken or closing (a peer that stopped reading long
// enough to pass the outbound limit gets mill.ErrSlowConsumer, which mill
// counts and logs); then there is nothing left to do but close.
func (echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	return mill.None
}

// config is what the flags set.
type config struct {
	loops       int
	readTimeout time.Duration
	idleTimeout time.Duration
	maxConns    int
	tls         *tls.Config // nil: plaintext
}

// defaults are the flags' defaults.
var defaults = config{readTimeout: 10 * time.Second, idleTimeout: 2 * time.Minute, maxConns: 10000}

// options turns cfg into mill options.
func (cfg config) options() []mill.Option {
	opts := []mill.Option{
		mill.WithLoops(cfg.loops),
		mill.WithReadTimeout(cfg.readTimeout),
		mill.WithIdleTimeout(cfg.idleTimeout),
		mill.WithMaxConns(cfg.maxConns),
	}
	if cfg.tls != nil {
		opts = append(opts, mill.WithTLS(cfg.tls))
	}
	return opts
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	cfg := defaults
	flag.IntVar(&cfg.loops, "loops", 0, "event loops (0: one per CPU)")
	flag.DurationVar(&cfg.readTimeout, "read-timeout", defaults.readTimeout, "close a connection whose unread input waits this long (0: never)")
	flag.DurationVar(&cfg.idleTimeout, "idle-timeout", defaults.idleTimeout, "close a connection silent both ways this long (0: never)")
	flag.IntVar(&cfg.maxConns, "max-conns", defaults.maxConns, "most connections open at once; more are closed at once (0: no cap)")
	tlsFlags := tlsflag.Register(flag.CommandLine)
	flag.Parse()

	certs, err := tlsFlags.Load(nil) // nil when TLS is off; no ALPN: echo is no named protocol
	if err != nil {
		log.Fatal(err)
	}
	cfg.tls = certs.Config()
	s, err := mill.NewServer(echo{}, *addr, cfg.options()...)
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
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	log.Printf("echo server listening on %s", s.Addr())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
