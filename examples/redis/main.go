// Command redis is a Redis-compatible key-value server built on mill. It
// speaks RESP2 (arrays of bulk strings and inline commands), keeps string
// keys in memory with expiry, and answers a core set of commands byte for
// byte as Redis 7 does: PING ECHO SET GET DEL EXISTS INCR DECR INCRBY
// DECRBY MSET MGET EXPIRE PEXPIRE TTL PTTL DBSIZE FLUSHALL FLUSHDB QUIT,
// plus enough of COMMAND, CONFIG GET and HELLO for clients that probe.
//
//	go run ./examples/redis -addr 127.0.0.1:6380 -loops 0
//
// Try it with: redis-cli -p 6380, or redis-benchmark -p 6380 -q.
// See README.md for the details and limits.
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
	addr := flag.String("addr", "127.0.0.1:6380", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	busyPoll := flag.Duration("busypoll", 50*time.Microsecond, "how long a loop keeps polling after its last work before it sleeps (0: sleep at once)")
	flag.Parse()

	s, _, err := newServer(*addr, Config{}, mill.WithLoops(*loops), mill.WithBusyPoll(*busyPoll))
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
	log.Printf("redis server listening on %s", s.Addr())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
