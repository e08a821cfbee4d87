// Command http is an HTTP/1.1 server on mill: a real request parser
// written as a mill codec (one request per frame) and run by OnTraffic over
// all buffered input at once, keep-alive, pipelining,
// Content-Length and chunked bodies, and the limits and status codes of
// RFC 9110 and RFC 9112.
//
//	go run ./examples/http -addr 127.0.0.1:8080 -loops 0
//
// Routes: GET/HEAD /plaintext and /json (the TechEmpower tests) and
// POST /echo, which answers with the request body. See README.md.
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

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	maxTarget := flag.Int("max-target", DefaultLimits.MaxTarget, "longest request-target in bytes (longer: 414)")
	maxHead := flag.Int("max-head", DefaultLimits.MaxHead, "largest header section in bytes (larger: 431)")
	maxBody := flag.Int("max-body", DefaultLimits.MaxBody, "largest request body in bytes (larger: 413)")
	flag.Parse()

	h := newServer(Limits{MaxTarget: *maxTarget, MaxHead: *maxHead, MaxBody: *maxBody})
	s, err := mill.NewServer(h, *addr, mill.WithLoops(*loops), mill.WithTicker(true))
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
	log.Printf("http server listening on %s", s.Addr())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
