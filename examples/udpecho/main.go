// Command udpecho is a mill UDP echo server: every datagram comes
// straight back to its sender, whole.
//
//	go run ./examples/udpecho -addr udp://127.0.0.1:9000 -loops 0
//	go run ./examples/udpecho -addr udp4://0.0.0.0:9000,udp6://[::]:9000
//
// Try it with: nc -u 127.0.0.1 9000
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
)

func main() {
	addr := flag.String("addr", "udp://127.0.0.1:9000", "comma-separated addresses to listen on (udp://, udp4:// or udp6:// URLs; a bare host:port is UDP)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU); on Linux each gets its own SO_REUSEPORT socket per address")
	readBuf := flag.Int("read-buffer", mill.DefaultReadBufferCap, "longest datagram delivered, in bytes; longer ones are dropped and logged")
	flag.Parse()

	h := &echo{log: log.Default()}
	s, err := newServer(h, splitAddrs(*addr), *loops, *readBuf)
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
	log.Printf("udp echo server listening on %v", s.Addrs())
	if err := s.Serve(); !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Printf("stopped: %d truncated datagrams dropped, %d other errors", h.truncated.Load(), h.errors.Load())
}
