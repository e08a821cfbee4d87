// Command stats is a mill echo server that serves its live counters as
// JSON over HTTP, for an operator, a dashboard or a Prometheus exporter.
//
//	go run ./examples/stats                     # echo on 127.0.0.1:9000
//	curl -s 127.0.0.1:9101/stats                # mill's counters, per loop and in total
//	curl -s 127.0.0.1:9101/debug/vars           # the Go runtime's, via expvar
package main

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
)

type echo struct{ mill.BuiltinHandler }

// OnTraffic writes back everything buffered; a failed write means the
// connection is broken or closing (see examples/echo), so it closes.
func (echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	return mill.None
}

// statsHandler serves s.Stats() as JSON. Stats takes no lock a loop
// takes, so polling it often costs the server nothing noticeable.
func statsHandler(s *mill.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Stats())
	})
}

// metricsMux routes /stats to mill's counters and /debug/vars to expvar's.
func metricsMux(s *mill.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/stats", statsHandler(s))
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "echo address")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	metrics := flag.String("metrics", "127.0.0.1:9101", "HTTP address for /stats and /debug/vars")
	idle := flag.Duration("idle-timeout", 2*time.Minute, "close connections silent both ways this long (0: never)")
	read := flag.Duration("read-timeout", 10*time.Second, "close connections whose unread input waits this long (0: never)")
	maxConns := flag.Int("max-conns", 10000, "most connections open at once; more are closed at once (0: no cap)")
	flag.Parse()

	s, err := mill.NewServer(echo{}, *addr, mill.WithLoops(*loops), mill.WithIdleTimeout(*idle),
		mill.WithReadTimeout(*read), mill.WithMaxConns(*maxConns))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *metrics)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: metricsMux(s), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		s.Shutdown(ctx)
	}()
	log.Printf("echo on %s, stats on http://%s/stats", s.Addr(), ln.Addr())
	if err := s.Serve(); !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
}
