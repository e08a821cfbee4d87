// Command echo is a mill echo server: every byte a client sends comes
// straight back.
//
//	go run ./examples/echo -addr 127.0.0.1:9000 -loops 0
//
// Try it with: nc 127.0.0.1 9000
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
)

type echo struct{ mill.BuiltinHandler }

func (echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return mill.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	flag.Parse()

	s, err := mill.NewServer(echo{}, *addr, mill.WithLoops(*loops))
	if err != nil {
		log.Fatal(err)
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
