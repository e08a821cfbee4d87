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
//
// With -tls-self-signed (or -tls-cert and -tls-key) it serves TLS on the
// address instead of plaintext; a SIGHUP reloads -tls-cert and -tls-key
// without a restart:
//
//	go run ./examples/redis -tls-self-signed
//	redis-cli --tls --insecure -p 6380 ping
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
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6380", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	busyPoll := flag.Duration("busypoll", 50*time.Microsecond, "how long a loop keeps polling after its last work before it sleeps (0: sleep at once)")
	var cfg Config
	flag.IntVar(&cfg.Limits.MaxBulk, "max-bulk", DefaultMaxBulk, "longest bulk string (one argument) in bytes; longer: \"invalid bulk length\" and close")
	flag.IntVar(&cfg.Limits.MaxCommand, "max-command", DefaultMaxCommand, "largest whole command in bytes; larger: \"command too big\" and close")
	flag.IntVar(&cfg.MaxOutput, "max-output", DefaultMaxOutput, "most reply bytes queued for one connection; a reply past it closes the connection")
	flag.DurationVar(&cfg.ReadTimeout, "read-timeout", DefaultReadTimeout, "close a connection whose partial command waits this long (0: never)")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "close a connection silent both ways this long (0: never)")
	flag.IntVar(&cfg.MaxConns, "max-conns", DefaultMaxConns, "most connections open at once; more are closed at once (0: no cap)")
	tlsFlags := tlsflag.Register(flag.CommandLine)
	flag.Parse()

	// No ALPN: Redis clients do not use it (redis-cli offers none).
	certs, err := tlsFlags.Load(nil)
	if err != nil {
		log.Fatal(err)
	}
	opts := []mill.Option{mill.WithLoops(*loops), mill.WithBusyPoll(*busyPoll)}
	if certs != nil {
		opts = append(opts, mill.WithTLS(certs.Config()))
	}
	s, _, err := newServer(*addr, cfg, opts...)
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
	log.Printf("redis server listening on %s (inbound limit %d, outbound limit %d bytes per connection)",
		s.Addr(), cfg.InboundLimit(), cfg.OutboundLimit())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
