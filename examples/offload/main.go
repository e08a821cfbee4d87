// Command offload is a mill server whose requests each do blocking work
// (simulated I/O) on the worker pool, answering through AsyncWrite, while
// the event loops stay free for everything else.
//
//	go run ./examples/offload                    # serve on 127.0.0.1:9000
//	go run ./examples/offload -demo              # measure ping latency under load
//	go run ./examples/offload -demo -mode inline # ... with the work on the loop
//
// Protocol, one line each way: "ping" → "pong" (answered on the loop);
// "work ID" → "done ID" after -work of blocking work.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
)

// options are the server's mill options: lines as the codec (its
// 1 KiB line limit bounds each connection's unread input, so
// mill.WithInboundLimit does not apply), and the timeouts and the cap.
func options(loops int, readTimeout, idleTimeout time.Duration, maxConns int) []mill.Option {
	return []mill.Option{mill.WithLoops(loops), mill.WithCodec(lines),
		mill.WithReadTimeout(readTimeout), mill.WithIdleTimeout(idleTimeout), mill.WithMaxConns(maxConns)}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	work := flag.Duration("work", 10*time.Millisecond, "blocking work per request")
	modeName := flag.String("mode", "pool", "where work runs: pool, goroutine or inline")
	demo := flag.Bool("demo", false, "serve on a free port, drive it with a client, print latencies, exit")
	readTimeout := flag.Duration("read-timeout", 10*time.Second, "close a connection whose partial line waits this long (0: never)")
	idleTimeout := flag.Duration("idle-timeout", 2*time.Minute, "close a connection silent both ways this long (0: never)")
	maxConns := flag.Int("max-conns", 10000, "most connections open at once; more are closed at once (0: no cap)")
	flag.Parse()

	mode, ok := map[string]Mode{"pool": Pool, "goroutine": Goroutine, "inline": Inline}[*modeName]
	if !ok {
		log.Fatalf("unknown -mode %q", *modeName)
	}
	if *demo {
		*addr = "127.0.0.1:0"
	}
	s, err := mill.NewServer(newHandler(mode, *work), *addr, options(*loops, *readTimeout, *idleTimeout, *maxConns)...)
	if err != nil {
		log.Fatal(err)
	}
	if *demo {
		go s.Serve()
		defer s.Shutdown(context.Background())
		r, err := runDemo(s.Addr().String(), 20, 30, time.Second)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("mode=%s work=%v loops=%d: %s\n", *modeName, *work, *loops, r)
		return
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	log.Printf("offload server listening on %s (mode %s, %v of work per request)", s.Addr(), *modeName, *work)
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
