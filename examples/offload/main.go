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

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	work := flag.Duration("work", 10*time.Millisecond, "blocking work per request")
	modeName := flag.String("mode", "pool", "where work runs: pool, goroutine or inline")
	demo := flag.Bool("demo", false, "serve on a free port, drive it with a client, print latencies, exit")
	flag.Parse()

	mode, ok := map[string]Mode{"pool": Pool, "goroutine": Goroutine, "inline": Inline}[*modeName]
	if !ok {
		log.Fatalf("unknown -mode %q", *modeName)
	}
	if *demo {
		*addr = "127.0.0.1:0"
	}
	s, err := mill.NewServer(newHandler(mode, *work), *addr, mill.WithLoops(*loops), mill.WithCodec(lines))
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
