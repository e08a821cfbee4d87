package promstats_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/promstats"
)

// A server's counters on /metrics: register a Collector over its Stats
// with a registry and serve the registry with promhttp.
func ExampleNew() {
	srv, err := mill.NewServer(handler{}, "tcp://127.0.0.1:0", mill.WithLoops(2),
		mill.WithLoopMetrics(100*time.Millisecond), // busy time and lag; without it they are not exported
		mill.WithLogger(zap.NewNop()))
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(promstats.New(srv.Stats))
	web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer web.Close()

	resp, err := web.Client().Get(web.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "# TYPE mill_connections") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// # TYPE mill_connections_accepted_total counter
	// # TYPE mill_connections_closed_total counter
	// # TYPE mill_connections_open gauge
	// # TYPE mill_connections_refused_total counter
}

// Several servers (or a server and a client) in one registry, told
// apart by a constant label, with the loop-scoped metrics per loop.
func ExamplePerLoop() {
	api, err := mill.NewServer(handler{}, "tcp://127.0.0.1:0", mill.WithLoops(2), mill.WithLogger(zap.NewNop()))
	if err != nil {
		log.Fatal(err)
	}
	admin, err := mill.NewServer(handler{}, "tcp://127.0.0.1:0", mill.WithLoops(1), mill.WithLogger(zap.NewNop()))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []*mill.Server{api, admin} {
		go s.Serve()
		defer s.Shutdown(context.Background())
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promstats.New(api.Stats, promstats.PerLoop(), promstats.ConstLabels(prometheus.Labels{"server": "api"})),
		promstats.New(admin.Stats, promstats.PerLoop(), promstats.ConstLabels(prometheus.Labels{"server": "admin"})),
	)
	fams, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "mill_connections_open" {
			for _, m := range f.GetMetric() {
				fmt.Printf("server=%s loop=%s\n", label(m, "server"), label(m, "loop"))
			}
		}
	}
	// Unordered output:
	// server=admin loop=0
	// server=api loop=0
	// server=api loop=1
}
