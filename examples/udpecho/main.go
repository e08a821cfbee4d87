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
	"fmt"
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
	rcvBuf := flag.Int("rcvbuf", 0, "each socket's kernel receive buffer (SO_RCVBUF) in bytes; 0 leaves the system's default")
	dropsEvery := flag.Duration("drops-every", 10*time.Second, "how often to check the kernel's drop count and log it if it grew (0: only at exit)")
	flag.Parse()

	h := &echo{log: log.Default()}
	s, err := newServer(h, splitAddrs(*addr), *loops, *readBuf, mill.WithSocketRecvBuffer(*rcvBuf))
	if err != nil {
		log.Fatal(err)
	}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if *dropsEvery > 0 {
			watchDrops(s, *dropsEvery, stopWatch)
		}
	}()
	dropped := make(chan string, 1) // the kernel's count, read before the sockets close
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		close(stopWatch)
		<-watched
		dropped <- describeDrops(s)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	log.Printf("udp echo server listening on %v", s.Addrs())
	if err := s.Serve(); !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Printf("stopped: %d truncated datagrams dropped, %d other errors; %s",
		h.truncated.Load(), h.errors.Load(), <-dropped)
}

// describeDrops says how many datagrams the kernel dropped on s's
// sockets, or why that is not known.
func describeDrops(s *mill.Server) string {
	n, err := kernelDrops(s.Addrs())
	if err != nil {
		return "the kernel's drops unknown: " + err.Error()
	}
	return fmt.Sprintf("the kernel dropped %d datagrams (receive queues full)", n)
}

// watchDrops logs the kernel's drop count every period in which it grew,
// until stop is closed.
func watchDrops(s *mill.Server, period time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	var last uint64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		n, err := kernelDrops(s.Addrs())
		if err != nil {
			log.Printf("cannot watch the kernel's drops: %v", err)
			return
		}
		if n > last {
			log.Printf("the kernel dropped %d datagrams in the last %v (%d in all): receive queues full; the loops are behind, or -rcvbuf is too small", n-last, period, n)
			last = n
		}
	}
}
