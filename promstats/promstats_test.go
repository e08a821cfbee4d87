package promstats_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/promstats"
)

// TestMain fails the tests if they leave goroutines behind, other than
// the two housekeeping goroutines of ants' default pool, which ants'
// init starts in every binary that links it (mill's worker pool does).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// handler echoes; the message "block" blocks its loop for 50 ms first,
// as a handler that does blocking work on the loop would.
type handler struct{ mill.BuiltinHandler }

func (handler) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if string(b) == "block" {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	return mill.None
}

const idleTimeout = 500 * time.Millisecond

// scripted starts a server with two loops and loop metrics on, and runs
// a workload whose counters are exactly predictable: three echo round
// trips of "hello" on connections the client then closes, one "block"
// round trip (50 ms on the loop) likewise, and a silent connection that
// the idle timeout closes. It returns once every close is counted.
func scripted(t *testing.T) *mill.Server {
	t.Helper()
	s, err := mill.NewServer(handler{}, "tcp://127.0.0.1:0", mill.WithLoops(2),
		mill.WithLoopMetrics(5*time.Millisecond), mill.WithIdleTimeout(idleTimeout),
		mill.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	roundTrip := func(msg string) {
		c := dial()
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	for range 3 {
		roundTrip("hello")
	}
	roundTrip("block")

	idle := dial()
	defer idle.Close()
	start := time.Now()
	if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %d, %v; want EOF from the idle timeout", n, err)
	}
	if d := time.Since(start); d < idleTimeout/2 {
		t.Fatalf("idle connection closed after %v, before the idle timeout", d)
	}

	waitFor(t, "five closes counted", func() bool {
		st := s.Stats().Total
		return st.Closed.Total() == 5 && st.Open == 0
	})
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goldenScripted is what the scripted workload leaves in the counters
// that it determines exactly (not the busy time, the lag or the queued
// tasks, which depend on timing).
const goldenScripted = `
# HELP mill_loops Event loops (sub-reactors) serving connections.
# TYPE mill_loops gauge
mill_loops 2
# HELP mill_connections_open Connections open now, including ones on their way to a loop and a client's dials under way.
# TYPE mill_connections_open gauge
mill_connections_open 0
# HELP mill_connections_accepted_total Connections handed to a loop: accepted, adopted or established.
# TYPE mill_connections_accepted_total counter
mill_connections_accepted_total 5
# HELP mill_connections_closed_total Connections closed, by cause.
# TYPE mill_connections_closed_total counter
mill_connections_closed_total{cause="clean"} 4
mill_connections_closed_total{cause="codec"} 0
mill_connections_closed_total{cause="idle_timeout"} 1
mill_connections_closed_total{cause="inbound_limit"} 0
mill_connections_closed_total{cause="io_error"} 0
mill_connections_closed_total{cause="panic"} 0
mill_connections_closed_total{cause="proxy"} 0
mill_connections_closed_total{cause="read_timeout"} 0
mill_connections_closed_total{cause="shutdown"} 0
mill_connections_closed_total{cause="slow_consumer"} 0
mill_connections_closed_total{cause="tls"} 0
mill_connections_closed_total{cause="write_timeout"} 0
# HELP mill_received_bytes_total Bytes read from sockets.
# TYPE mill_received_bytes_total counter
mill_received_bytes_total 20
# HELP mill_sent_bytes_total Bytes handed to the kernel.
# TYPE mill_sent_bytes_total counter
mill_sent_bytes_total 20
# HELP mill_outbound_queued_bytes Bytes queued for output now.
# TYPE mill_outbound_queued_bytes gauge
mill_outbound_queued_bytes 0
# HELP mill_writes_refused_total Writes refused whole by the outbound limits under FailWrite (ErrOutboundFull).
# TYPE mill_writes_refused_total counter
mill_writes_refused_total 0
# HELP mill_output_dropped_bytes_total Output bytes accepted by writes but still queued when their connection closed.
# TYPE mill_output_dropped_bytes_total counter
mill_output_dropped_bytes_total 0
# HELP mill_accept_errors_total Failed accepts (EMFILE, ENFILE, ENOBUFS, ...) that paused accepting.
# TYPE mill_accept_errors_total counter
mill_accept_errors_total 0
# HELP mill_connections_refused_total Connections closed at accept because WithMaxConns connections were open.
# TYPE mill_connections_refused_total counter
mill_connections_refused_total 0
# HELP mill_tls_handshakes_total TLS handshakes that succeeded.
# TYPE mill_tls_handshakes_total counter
mill_tls_handshakes_total 0
# HELP mill_proxy_headers_total PROXY protocol headers accepted, LOCAL ones included.
# TYPE mill_proxy_headers_total counter
mill_proxy_headers_total 0
`

var goldenScriptedNames = []string{
	"mill_loops", "mill_connections_open", "mill_connections_accepted_total",
	"mill_connections_closed_total", "mill_received_bytes_total", "mill_sent_bytes_total",
	"mill_outbound_queued_bytes", "mill_writes_refused_total", "mill_output_dropped_bytes_total",
	"mill_accept_errors_total", "mill_connections_refused_total", "mill_tls_handshakes_total",
	"mill_proxy_headers_total",
}

// TestScriptedWorkload runs the scripted workload against a real server
// and checks the scrape: lint-clean, the golden counters, the 50 ms
// block in the lag histogram and the busy time, and promtool's check.
func TestScriptedWorkload(t *testing.T) {
	s := scripted(t)
	c := promstats.New(s.Stats)

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	if err := testutil.CollectAndCompare(c, strings.NewReader(goldenScripted), goldenScriptedNames...); err != nil {
		t.Error(err)
	}

	// The probes given while the handler blocked ran up to 50 ms late.
	var h *dto.Histogram
	waitFor(t, "a probe later than 25 ms in mill_loop_lag_seconds", func() bool {
		h = gather(t, c)["mill_loop_lag_seconds"][0].GetHistogram()
		return h != nil && h.GetSampleCount()-bucket(t, h, 0.025) > 0
	})
	checkHistogram(t, h)
	if h.GetSampleSum() < 0.025 {
		t.Errorf("lag sum %vs, want at least the late probe's 25 ms", h.GetSampleSum())
	}
	busy := gather(t, c)["mill_loop_busy_seconds_total"]
	if len(busy) != 1 || busy[0].GetCounter().GetValue() < 0.05 {
		t.Errorf("mill_loop_busy_seconds_total %v, want at least the 50 ms blocked", busy)
	}

	promtool(t, c)
}

// TestPerLoop: with PerLoop the loop-scoped metrics come per loop, sum
// to the totals, and the server-wide ones stay unlabelled.
func TestPerLoop(t *testing.T) {
	s := scripted(t)
	c := promstats.New(s.Stats, promstats.PerLoop())
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	waitFor(t, "both loops in the lag histogram", func() bool {
		return len(gather(t, c)["mill_loop_lag_seconds"]) == 2
	})
	fams := gather(t, c)
	for name, want := range map[string]float64{
		"mill_connections_accepted_total": 5, "mill_received_bytes_total": 20,
		"mill_sent_bytes_total": 20, "mill_connections_open": 0,
	} {
		ms := fams[name]
		loops := map[string]bool{}
		sum := 0.0
		for _, m := range ms {
			loops[label(m, "loop")] = true
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		if !loops["0"] || !loops["1"] || len(ms) != 2 || sum != want {
			t.Errorf("%s: %d series over loops %v summing to %v; want loops 0 and 1 summing to %v", name, len(ms), loops, sum, want)
		}
	}
	if n := len(fams["mill_connections_closed_total"]); n != 2*12 {
		t.Errorf("mill_connections_closed_total: %d series, want 12 causes × 2 loops", n)
	}
	late := 0
	for _, m := range fams["mill_loop_lag_seconds"] {
		h := m.GetHistogram()
		checkHistogram(t, h)
		if h.GetSampleCount()-bucket(t, h, 0.025) > 0 {
			late++
		}
	}
	if late == 0 { // the other loop may have had a late probe too, on a busy machine
		t.Error("no loop with a probe later than 25 ms; the one that blocked should have one")
	}
	for _, name := range []string{"mill_loops", "mill_accept_errors_total", "mill_tls_handshakes_total"} {
		if ms := fams[name]; len(ms) != 1 || len(ms[0].GetLabel()) != 0 {
			t.Errorf("%s: %v, want one unlabelled series", name, ms)
		}
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	promtool(t, c)
}

// fixed is a snapshot with every field set, for an exact golden test of
// the whole mapping, the lag histogram's conversion included.
func fixed() mill.Stats {
	bounds := []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond}
	loop := func(k uint64) mill.LoopStats {
		return mill.LoopStats{
			Open: int64(k), Accepted: 10 * k, BytesIn: 1000 * k, BytesOut: 2000 * k,
			Reads: 3 * k, Writes: 4 * k, OutboundPending: int64(5 * k), TasksQueued: int(k),
			Truncated: 6 * k, WritesRefused: 7 * k, FlowPauses: 8 * k, LingerDropped: 9 * k,
			OutputDropped: 11 * k,
			Closed: mill.CloseCounts{Clean: k, IOError: 2 * k, Codec: 3 * k, IdleTimeout: 4 * k,
				ReadTimeout: 5 * k, WriteTimeout: 6 * k, Panic: 7 * k, SlowConsumer: 8 * k,
				Shutdown: 9 * k, InboundLimit: 10 * k, TLS: 11 * k, Proxy: 12 * k},
			Busy: time.Duration(k) * 1500 * time.Millisecond,
			Lag: mill.LagHistogram{Bounds: bounds, Counts: []uint64{4 * k, 3 * k, 2 * k, k},
				Count: 10 * k, Sum: time.Duration(k) * 250 * time.Millisecond},
		}
	}
	st := mill.Stats{Loops: []mill.LoopStats{loop(1), loop(2)}, AcceptErrors: 3, Refused: 4,
		TLS: mill.TLSStats{Handshakes: 20, Resumed: 5, InProgress: 2, Waiting: 1,
			Failed: mill.TLSFailures{NotTLS: 1, Timeout: 2, Overload: 3, PeerGone: 4, Error: 5, Shutdown: 6}},
		Proxy: mill.ProxyStats{Headers: 30, Local: 7, Absent: 2,
			Failed: mill.ProxyFailures{Untrusted: 1, Missing: 2, Invalid: 3, Timeout: 4, PeerGone: 5, Shutdown: 6}},
	}
	st.Total = loop(3) // the sum of loop(1) and loop(2)
	return st
}

func TestFixedGolden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		opts         []promstats.Option
		series       int // 27 loop-scoped (per loop under PerLoop), mill_loops and 21 server-wide
	}{
		{"totals", "testdata/totals.prom", nil, 49},
		{"per loop", "testdata/perloop.prom", []promstats.Option{promstats.PerLoop()}, 2*27 + 22},
		{"const labels", "testdata/constlabels.prom", []promstats.Option{promstats.ConstLabels(prometheus.Labels{"server": "api"})}, 49},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := promstats.New(fixed, tc.opts...)
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(tc.golden, scrape(t, c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := testutil.CollectAndCompare(c, f); err != nil {
				t.Error(err)
			}
			if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %v", problems, err)
			}
			if n, err := testutil.GatherAndCount(registry(t, c)); err != nil || n != tc.series {
				t.Errorf("%d series (%v), want %d", n, err, tc.series)
			}
		})
	}
}

// TestNotMeasured: without WithLoopMetrics the busy time and lag are
// not exported at all (rather than as zeros nobody measured).
func TestNotMeasured(t *testing.T) {
	st := fixed()
	for i := range st.Loops {
		st.Loops[i].Busy, st.Loops[i].Lag = 0, mill.LagHistogram{}
	}
	st.Total.Busy, st.Total.Lag = 0, mill.LagHistogram{}
	for _, opts := range [][]promstats.Option{nil, {promstats.PerLoop()}} {
		fams := gather(t, promstats.New(func() mill.Stats { return st }, opts...))
		if len(fams["mill_loop_busy_seconds_total"]) != 0 || len(fams["mill_loop_lag_seconds"]) != 0 {
			t.Errorf("loop metrics exported without being measured: %v %v",
				fams["mill_loop_busy_seconds_total"], fams["mill_loop_lag_seconds"])
		}
		if len(fams["mill_connections_accepted_total"]) == 0 {
			t.Error("the rest missing")
		}
	}
}

// TestLagInconsistentSnapshot: a snapshot taken while a loop records a
// probe may have a Count that disagrees with its Counts; the histogram
// exported stays valid (its +Inf bucket is the sum of the counts).
func TestLagInconsistentSnapshot(t *testing.T) {
	st := fixed()
	st.Total.Lag.Count = 1 // fewer than the counts say
	h := gather(t, promstats.New(func() mill.Stats { return st }))["mill_loop_lag_seconds"][0].GetHistogram()
	checkHistogram(t, h)
	if h.GetSampleCount() != 30 {
		t.Errorf("count %d, want 30, the sum of the buckets", h.GetSampleCount())
	}
}

func registry(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return reg
}

// gather scrapes c and returns its metrics by family name.
func gather(t *testing.T, c prometheus.Collector) map[string][]*dto.Metric {
	t.Helper()
	fams, err := registry(t, c).Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]*dto.Metric{}
	for _, f := range fams {
		m[f.GetName()] = f.GetMetric()
	}
	return m
}

// scrape returns c's metrics in the text exposition format.
func scrape(t *testing.T, c prometheus.Collector) []byte {
	t.Helper()
	fams, err := registry(t, c).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// bucket returns h's cumulative count at the upper bound le.
func bucket(t *testing.T, h *dto.Histogram, le float64) uint64 {
	t.Helper()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	t.Fatalf("no bucket le=%v in %v", le, h)
	return 0
}

// checkHistogram checks that h is a valid cumulative histogram.
func checkHistogram(t *testing.T, h *dto.Histogram) {
	t.Helper()
	prev := uint64(0)
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			t.Errorf("buckets not cumulative: %v", h)
		}
		prev = b.GetCumulativeCount()
	}
	if h.GetSampleCount() < prev {
		t.Errorf("count %d below the last bucket's %d", h.GetSampleCount(), prev)
	}
}

// promtool runs Prometheus's own checker over a scrape, where Debian's
// prometheus package provides it (MILL_REQUIRE_TOOLS=1 makes its
// absence a failure rather than a skip).
func promtool(t *testing.T, c prometheus.Collector) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool not found (apt-get install prometheus) and MILL_REQUIRE_TOOLS=1")
		}
		t.Log("promtool not found (apt-get install prometheus): skipping promtool check metrics")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape(t, c))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
