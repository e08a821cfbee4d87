// Package promstats exports a mill server's or client's counters
// (mill.Stats) to Prometheus.
//
// It is a module of its own, so that mill itself never depends on the
// Prometheus client: only programs that import promstats do.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promstats.New(srv.Stats))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The Collector takes one snapshot per scrape and turns it into constant
// metrics, so it costs the server nothing between scrapes and the
// metrics of one scrape come from the same snapshot. The metrics are
// process totals by default; PerLoop labels the loop-scoped ones by
// loop instead. The loop busy time and lag metrics appear once the
// server measures them (mill.WithLoopMetrics).
//
// See README.md for the list of metrics and what to alert on.
package promstats

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mill-io/mill"
)

// Option configures a Collector.
type Option func(*config)

type config struct {
	perLoop     bool
	constLabels prometheus.Labels
}

// PerLoop labels every loop-scoped metric (connections, bytes, busy
// time, lag, ...) with the loop's index ("loop"="0", "1", ...) instead
// of exporting the sum over the loops. A server has one loop per CPU by
// default, so this multiplies those series by the number of CPUs: it
// is off by default. Server-wide metrics (accept errors, refusals, TLS,
// PROXY protocol) are never labelled by loop.
func PerLoop() Option { return func(c *config) { c.perLoop = true } }

// ConstLabels adds labels with fixed values to every metric, for
// telling apart several servers (or a server and a client) registered
// in one registry: ConstLabels(prometheus.Labels{"server": "api"}).
func ConstLabels(l prometheus.Labels) Option {
	return func(c *config) { c.constLabels = l }
}

// Collector is a prometheus.Collector over a stats function such as
// (*mill.Server).Stats or (*mill.Client).Stats. Register it with a
// registry; it is safe for concurrent scrapes.
type Collector struct {
	stats   func() mill.Stats
	perLoop bool

	// loop-scoped: labelled by "loop" under PerLoop
	loops, open, accepted, closed         *prometheus.Desc
	bytesIn, bytesOut, reads, writes      *prometheus.Desc
	outbound, tasks, truncated            *prometheus.Desc
	writesRefused, flowPauses             *prometheus.Desc
	lingerDropped, outputDropped          *prometheus.Desc
	busy, lag                             *prometheus.Desc
	acceptErrors, refused                 *prometheus.Desc
	tlsDone, tlsResumed, tlsNow, tlsWait  *prometheus.Desc
	tlsFailed                             *prometheus.Desc
	proxyHeaders, proxyLocal, proxyAbsent *prometheus.Desc
	proxyRefused                          *prometheus.Desc
}

// New returns a Collector that calls stats once per scrape, typically
// promstats.New(srv.Stats) for a *mill.Server or promstats.New(cl.Stats)
// for a *mill.Client.
func New(stats func() mill.Stats, opts ...Option) *Collector {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	var loop []string
	if cfg.perLoop {
		loop = []string{"loop"}
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mill_"+name, help, labels, cfg.constLabels)
	}
	l := func(name, help string, labels ...string) *prometheus.Desc {
		return d(name, help, append(labels, loop...)...)
	}
	return &Collector{
		stats:   stats,
		perLoop: cfg.perLoop,

		loops:         d("loops", "Event loops (sub-reactors) serving connections."),
		open:          l("connections_open", "Connections open now, including ones on their way to a loop and a client's dials under way."),
		accepted:      l("connections_accepted_total", "Connections handed to a loop: accepted, adopted or established."),
		closed:        l("connections_closed_total", "Connections closed, by cause.", "cause"),
		bytesIn:       l("received_bytes_total", "Bytes read from sockets."),
		bytesOut:      l("sent_bytes_total", "Bytes handed to the kernel."),
		reads:         l("reads_total", "Reads that returned data, datagrams received included."),
		writes:        l("writes_total", "Writes and writevs that sent data, datagrams sent included."),
		outbound:      l("outbound_queued_bytes", "Bytes queued for output now."),
		tasks:         l("loop_tasks_queued", "Tasks waiting in the loops' queues now (AsyncWrite, Close, ...)."),
		truncated:     l("datagrams_truncated_total", "Datagrams dropped for being longer than the read buffer."),
		writesRefused: l("writes_refused_total", "Writes refused whole by the outbound limits under FailWrite (ErrOutboundFull)."),
		flowPauses:    l("flow_control_pauses_total", "Times flow control stopped reading a connection whose queued output passed the high watermark."),
		lingerDropped: l("linger_dropped_bytes_total", "Input bytes read and dropped by lingering closes."),
		outputDropped: l("output_dropped_bytes_total", "Output bytes accepted by writes but still queued when their connection closed."),
		busy:          l("loop_busy_seconds_total", "Time the loops spent handling events, tasks and timers rather than waiting (with WithLoopMetrics); its rate is loop utilisation."),
		lag:           l("loop_lag_seconds", "How late the loops ran the probe tasks given to them every interval (with WithLoopMetrics)."),

		acceptErrors: d("accept_errors_total", "Failed accepts (EMFILE, ENFILE, ENOBUFS, ...) that paused accepting."),
		refused:      d("connections_refused_total", "Connections closed at accept because WithMaxConns connections were open."),

		tlsDone:    d("tls_handshakes_total", "TLS handshakes that succeeded."),
		tlsResumed: d("tls_handshakes_resumed_total", "TLS handshakes that succeeded by resuming a session."),
		tlsNow:     d("tls_handshakes_in_progress", "TLS handshakes under way now, waiting ones included."),
		tlsWait:    d("tls_handshakes_waiting", "TLS handshakes waiting for a goroutine now (WithTLSHandshakeLimits)."),
		tlsFailed:  d("tls_handshake_failures_total", "TLS handshakes that failed, by cause.", "cause"),

		proxyHeaders: d("proxy_headers_total", "PROXY protocol headers accepted, LOCAL ones included."),
		proxyLocal:   d("proxy_headers_local_total", "PROXY protocol LOCAL headers accepted (a balancer's health checks)."),
		proxyAbsent:  d("proxy_headers_absent_total", "Connections from trusted peers without a PROXY protocol header, where it is optional."),
		proxyRefused: d("proxy_refused_total", "Connections refused for their PROXY protocol header, by cause.", "cause"),
	}
}

// Describe sends the descriptors of every metric the Collector may
// export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.loops, c.open, c.accepted, c.closed, c.bytesIn, c.bytesOut, c.reads, c.writes,
		c.outbound, c.tasks, c.truncated, c.writesRefused, c.flowPauses, c.lingerDropped,
		c.outputDropped, c.busy, c.lag, c.acceptErrors, c.refused,
		c.tlsDone, c.tlsResumed, c.tlsNow, c.tlsWait, c.tlsFailed,
		c.proxyHeaders, c.proxyLocal, c.proxyAbsent, c.proxyRefused,
	} {
		ch <- d
	}
}

// Collect takes one snapshot and sends it as metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(c.loops, float64(len(st.Loops)))
	// The loop busy and lag metrics only once the server measures them:
	// a zero would claim idle loops that nobody measured.
	measured := st.Total.Busy > 0 || st.Total.Lag.Count > 0
	bounds := st.Total.Lag.Bounds
	if c.perLoop {
		for i := range st.Loops {
			c.collectLoop(ch, &st.Loops[i], measured, bounds, strconv.Itoa(i))
		}
	} else {
		c.collectLoop(ch, &st.Total, measured, bounds)
	}

	counter(c.acceptErrors, st.AcceptErrors)
	counter(c.refused, st.Refused)

	t := &st.TLS
	counter(c.tlsDone, t.Handshakes)
	counter(c.tlsResumed, t.Resumed)
	gauge(c.tlsNow, float64(t.InProgress))
	gauge(c.tlsWait, float64(t.Waiting))
	for _, f := range []struct {
		cause string
		n     uint64
	}{
		{"not_tls", t.Failed.NotTLS},
		{"timeout", t.Failed.Timeout},
		{"overload", t.Failed.Overload},
		{"peer_gone", t.Failed.PeerGone},
		{"error", t.Failed.Error},
		{"shutdown", t.Failed.Shutdown},
	} {
		counter(c.tlsFailed, f.n, f.cause)
	}

	p := &st.Proxy
	counter(c.proxyHeaders, p.Headers)
	counter(c.proxyLocal, p.Local)
	counter(c.proxyAbsent, p.Absent)
	for _, f := range []struct {
		cause string
		n     uint64
	}{
		{"untrusted", p.Failed.Untrusted},
		{"missing", p.Failed.Missing},
		{"invalid", p.Failed.Invalid},
		{"timeout", p.Failed.Timeout},
		{"peer_gone", p.Failed.PeerGone},
		{"shutdown", p.Failed.Shutdown},
	} {
		counter(c.proxyRefused, f.n, f.cause)
	}
}

// collectLoop sends one loop's metrics (or the total's, with no loop
// label). bounds are the lag histogram's, for a loop that has run no
// probe yet.
func (c *Collector) collectLoop(ch chan<- prometheus.Metric, ls *mill.LoopStats, measured bool, bounds []time.Duration, loop ...string) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels, loop...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(labels, loop...)...)
	}

	gauge(c.open, float64(ls.Open))
	counter(c.accepted, ls.Accepted)
	k := &ls.Closed
	for _, f := range []struct {
		cause string
		n     uint64
	}{
		{"clean", k.Clean},
		{"io_error", k.IOError},
		{"codec", k.Codec},
		{"idle_timeout", k.IdleTimeout},
		{"read_timeout", k.ReadTimeout},
		{"write_timeout", k.WriteTimeout},
		{"panic", k.Panic},
		{"slow_consumer", k.SlowConsumer},
		{"shutdown", k.Shutdown},
		{"inbound_limit", k.InboundLimit},
		{"tls", k.TLS},
		{"proxy", k.Proxy},
	} {
		counter(c.closed, f.n, f.cause)
	}
	counter(c.bytesIn, ls.BytesIn)
	counter(c.bytesOut, ls.BytesOut)
	counter(c.reads, ls.Reads)
	counter(c.writes, ls.Writes)
	gauge(c.outbound, float64(ls.OutboundPending))
	gauge(c.tasks, float64(ls.TasksQueued))
	counter(c.truncated, ls.Truncated)
	counter(c.writesRefused, ls.WritesRefused)
	counter(c.flowPauses, ls.FlowPauses)
	counter(c.lingerDropped, ls.LingerDropped)
	counter(c.outputDropped, ls.OutputDropped)

	if !measured {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.busy, prometheus.CounterValue, ls.Busy.Seconds(), loop...)
	if len(bounds) == 0 {
		return // no probe has run anywhere yet
	}
	count, sum, buckets := lagHistogram(ls.Lag, bounds)
	ch <- prometheus.MustNewConstHistogram(c.lag, count, sum, buckets, loop...)
}

// lagHistogram turns mill's lag histogram (a count per bucket, the last
// one past the last bound) into Prometheus's cumulative buckets, in
// seconds. The count is the sum of the buckets rather than h.Count:
// under load the snapshot reads the fields one by one, and a histogram
// whose +Inf bucket is below a finite one would be invalid.
func lagHistogram(h mill.LagHistogram, bounds []time.Duration) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		if i < len(h.Counts) {
			count += h.Counts[i]
		}
		buckets[b.Seconds()] = count
	}
	for i := len(bounds); i < len(h.Counts); i++ {
		count += h.Counts[i]
	}
	return count, h.Sum.Seconds(), buckets
}
