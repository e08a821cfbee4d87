// Command stats is examples/stats with Prometheus: a mill echo server
// that serves its live counters as Prometheus metrics on /metrics,
// beside the JSON on /stats and the Go runtime's expvar variables.
//
// It lives in the promstats module, not beside examples/stats, because
// mill's own module never imports the Prometheus client.
//
//	go run ./examples/stats                      # from promstats/: echo on 127.0.0.1:9000
//	curl -s 127.0.0.1:9101/metrics               # mill's counters (and the Go runtime's) for Prometheus
//	curl -s 127.0.0.1:9101/stats                 # the same counters as JSON, per loop and in total
//	curl -s 127.0.0.1:9101/debug/vars            # the Go runtime's, via expvar
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/promstats"
)

type echo struct{ mill.BuiltinHandler }

// OnTraffic writes back everything buffered; a failed write means the
// connection is broken or closing, so it closes.
func (echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	return mill.None
}

// metricsMux routes /metrics to a registry holding mill's collector and
// the Go runtime's and process's, /stats to mill's counters as JSON and
// /debug/vars to expvar's.
func metricsMux(s *mill.Server, opts ...promstats.Option) *http.ServeMux {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promstats.New(s.Stats, opts...),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/stats", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Stats())
	}))
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "echo address")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	metrics := flag.String("metrics", "127.0.0.1:9101", "HTTP address for /metrics, /stats and /debug/vars")
	idle := flag.Duration("idle-timeout", 2*time.Minute, "close connections silent both ways this long (0: never)")
	read := flag.Duration("read-timeout", 10*time.Second, "close connections whose unread input waits this long (0: never)")
	maxConns := flag.Int("max-conns", 10000, "most connections open at once; more are closed at once (0: no cap)")
	loopMetrics := flag.Duration("loop-metrics", 100*time.Millisecond, "measure loop busy time and lag, probing each loop this often (0: off)")
	perLoop := flag.Bool("per-loop", false, "label loop-scoped metrics by loop instead of summing them")
	flag.Parse()

	s, err := mill.NewServer(echo{}, *addr, mill.WithLoops(*loops), mill.WithIdleTimeout(*idle),
		mill.WithReadTimeout(*read), mill.WithMaxConns(*maxConns), mill.WithLoopMetrics(*loopMetrics))
	if err != nil {
		log.Fatal(err)
	}
	var opts []promstats.Option
	if *perLoop {
		opts = append(opts, promstats.PerLoop())
	}
	ln, err := net.Listen("tcp", *metrics)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: metricsMux(s, opts...), ReadHeaderTimeout: 5 * time.Second}
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
	log.Printf("echo on %s, metrics on http://%s/metrics", s.Addr(), ln.Addr())
	if err := s.Serve(); !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
}
