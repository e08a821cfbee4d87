// Command loadgen drives an echo server with verified, latency-timed messages.
//
// Every connection runs in its own goroutine on a blocking net.Conn: it writes
// -pipeline messages of -size bytes, reads all echoes back, verifies each one
// byte for byte and records its latency (write start to last byte received),
// until -warmup + -duration has elapsed. With -idle it instead opens -conns
// connections, echoes one message on each, and holds them open until SIGINT,
// SIGTERM or -duration.
//
// Phase markers are printed to stderr ("loadgen: phase=measure-start" and
// "phase=measure-end", or "phase=established" with -idle) so a supervisor can
// sample server resource usage over exactly the measured window.
//
// With -tls every connection is a crypto/tls client (handshake during set-up);
// with -handshake it measures full TLS handshakes per second instead (see
// tls.go).
//
// With -ws every connection is a WebSocket client (raw RFC 6455 handshake,
// masked binary frames; see ws.go): echo as above, -idle, or -broadcast
// (broadcasts to all connections timed from a trigger on connection 0; see
// ws_linux.go).
//
// With -udp it drives a UDP echo server instead: -conns connected UDP
// sockets each keep -pipeline datagrams in flight (see udp_linux.go), and
// the result adds the datagrams sent, lost and late.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type options struct {
	addr      string
	conns     int
	size      int
	pipeline  int
	duration  time.Duration
	warmup    time.Duration
	idle      bool
	json      bool
	ioTimeout time.Duration
	dial      dialConfig

	udp         bool
	lossTimeout time.Duration

	tls       *tls.Config // -tls: nil for plaintext
	handshake bool

	ws        bool   // -ws: WebSocket (ws.go)
	broadcast bool   // -ws -broadcast (ws_linux.go)
	wsPath    string // request path of the WebSocket handshake
}

// Latency summarises a histogram in nanoseconds.
type Latency struct {
	P50  uint64  `json:"p50_ns"`
	P90  uint64  `json:"p90_ns"`
	P99  uint64  `json:"p99_ns"`
	P999 uint64  `json:"p999_ns"`
	Max  uint64  `json:"max_ns"`
	Mean float64 `json:"mean_ns"`
}

// Result is the machine-readable outcome of a run (printed with -json).
type Result struct {
	Mode        string  `json:"mode"`
	Addr        string  `json:"addr"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Pipeline    int     `json:"pipeline"`
	DurationSec float64 `json:"duration_s"`
	Established int     `json:"established"`
	DialRetries int64   `json:"dial_retries"`
	Messages    uint64  `json:"messages"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	Latency     Latency `json:"latency"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`

	// -udp only: datagrams sent in the measured window, how many of them
	// were given up (lost; of which by timeout rather than by a later
	// echo overtaking them), the lost share of sent in percent, echoes
	// that arrived after their datagram was given up (late), and how
	// often a sendmmsg sent less than asked (full send queue).
	Sent          uint64  `json:"sent,omitempty"`
	Lost          uint64  `json:"lost,omitempty"`
	LostByTimeout uint64  `json:"lost_by_timeout,omitempty"`
	LossPct       float64 `json:"loss_pct,omitempty"`
	Late          uint64  `json:"late,omitempty"`
	RetriedSends  uint64  `json:"retried_sends,omitempty"`

	// -tls: what was negotiated. With -handshake, Messages counts
	// completed full handshakes and Latency is connect to server close.
	TLS *TLSInfo `json:"tls,omitempty"`

	// -ws -broadcast: broadcasts completed in the window (Messages counts
	// deliveries, broadcasts × connections; Latency is trigger to the last
	// receipt per broadcast) and the spread of receipts per broadcast
	// (last minus first).
	Broadcasts uint64   `json:"broadcasts,omitempty"`
	Spread     *Latency `json:"spread,omitempty"`
}

func main() {
	var o options
	var src string
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9000", "server address host:port")
	flag.IntVar(&o.conns, "conns", 100, "number of connections")
	flag.IntVar(&o.size, "size", 64, "message size in bytes")
	flag.IntVar(&o.pipeline, "pipeline", 1, "messages in flight per connection")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured duration (with -idle: maximum hold time)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before the measured window")
	flag.BoolVar(&o.idle, "idle", false, "open -conns connections, hold them idle until SIGINT/SIGTERM or -duration")
	flag.BoolVar(&o.json, "json", false, "print the result as JSON")
	flag.DurationVar(&o.ioTimeout, "iotimeout", 10*time.Second, "how long an echo may be overdue after the run ends")
	flag.IntVar(&o.dial.conc, "dialconc", 64, "concurrent dials during connection setup")
	flag.IntVar(&o.dial.retries, "dialretries", 8, "retries per failed dial")
	flag.DurationVar(&o.dial.timeout, "dialtimeout", 60*time.Second, "bound on the whole connection setup")
	flag.BoolVar(&o.udp, "udp", false, "UDP echo: -conns connected UDP sockets, -pipeline datagrams in flight on each")
	flag.DurationVar(&o.lossTimeout, "losstimeout", 50*time.Millisecond, "-udp: give a datagram up as lost once its echo is this overdue")
	useTLS := flag.Bool("tls", false, "TLS: every connection is a crypto/tls client (handshake during set-up)")
	tlsVersion := flag.String("tls-version", "1.3", "-tls: protocol version, 1.2 or 1.3")
	tlsCurve := flag.String("tls-curve", "x25519", "-tls: key exchange, x25519, p256 or default (crypto/tls's preference list)")
	flag.BoolVar(&o.handshake, "handshake", false, "measure full TLS handshakes: -conns goroutines connect, handshake, close (implies -tls)")
	flag.BoolVar(&o.ws, "ws", false, "WebSocket: handshake on every connection, then echo masked binary messages (with -idle: hold them)")
	flag.BoolVar(&o.broadcast, "broadcast", false, "-ws: time broadcasts to all -conns connections, triggered by a text message on connection 0")
	flag.StringVar(&o.wsPath, "wspath", "/", "-ws: request path of the handshake")
	flag.StringVar(&src, "src", "", "comma-separated local source IPs used round-robin (e.g. 127.0.0.1,127.0.0.2)")
	flag.Parse()
	o.dial.addr = o.addr
	ips, err := parseSrcIPs(src)
	if err != nil {
		fatal(err)
	}
	o.dial.srcIPs = ips
	if o.conns < 1 || o.size < 1 || o.pipeline < 1 || o.duration <= 0 || o.warmup < 0 {
		fatal(fmt.Errorf("need -conns, -size, -pipeline >= 1, -duration > 0 and -warmup >= 0"))
	}
	if o.udp && (o.idle || o.size < headerLen || o.lossTimeout <= 0 || *useTLS || o.handshake) {
		fatal(fmt.Errorf("-udp needs -size >= %d and -losstimeout > 0, and excludes -idle, -tls and -handshake", headerLen))
	}
	if o.ws && (o.udp || *useTLS || o.handshake) {
		fatal(fmt.Errorf("-ws excludes -udp, -tls and -handshake"))
	}
	if o.broadcast && (!o.ws || o.idle || o.size < 24) {
		fatal(fmt.Errorf("-broadcast needs -ws and -size >= 24, and excludes -idle"))
	}
	if o.handshake && o.idle {
		fatal(fmt.Errorf("-handshake and -idle exclude each other"))
	}
	if *useTLS || o.handshake {
		if o.tls, err = clientConfig(*tlsVersion, *tlsCurve); err != nil {
			fatal(err)
		}
		o.dial.tls = o.tls
	}

	var res Result
	if o.udp {
		res = runUDP(o)
	} else if o.ws && o.broadcast {
		res = runWSBroadcast(o)
	} else if o.ws && o.idle {
		res = runWSIdle(o)
	} else if o.ws {
		res = runWSLoad(o)
	} else if o.handshake {
		res = runHandshake(o)
	} else if o.idle {
		res = runIdle(o)
	} else {
		res = runLoad(o)
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		printHuman(os.Stdout, res)
	}
	if res.Errors > 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}

// phaseOut receives the phase markers (stderr; tests silence it).
var phaseOut io.Writer = os.Stderr

func phase(name string, extra string) {
	fmt.Fprintf(phaseOut, "loadgen: phase=%s unix_ns=%d %s\n", name, time.Now().UnixNano(), extra)
}

// errorLog collects errors from all connections.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first error
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	if e.n == 0 {
		e.first = err
	}
	e.n++
	e.mu.Unlock()
}

func (e *errorLog) fill(r *Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors = e.n
	if e.first != nil {
		r.FirstError = e.first.Error()
	}
}

// worker is one connection's state; all buffers are allocated up front.
type worker struct {
	conn    net.Conn
	pat     *pattern
	size    int
	pipe    int
	wbuf    []byte
	rbuf    []byte
	scratch []byte
	hist    histogram
	msgs    uint64
}

// run loops write-batch / read-verify until end. Latencies of messages whose
// echo completes inside [start, end) are recorded.
func (w *worker) run(start, end time.Time, ioTimeout time.Duration) error {
	if err := w.conn.SetDeadline(end.Add(ioTimeout)); err != nil {
		return err
	}
	var seq uint64
	for time.Now().Before(end) {
		for i := 0; i < w.pipe; i++ {
			w.pat.fill(w.wbuf[i*w.size:(i+1)*w.size], seq+uint64(i))
		}
		t0 := time.Now()
		if _, err := w.conn.Write(w.wbuf); err != nil {
			return fmt.Errorf("conn %d write: %w", w.pat.id, err)
		}
		got, done := 0, 0
		for done < w.pipe {
			n, err := w.conn.Read(w.rbuf[got:])
			if n > 0 {
				got += n
				t := time.Now()
				inWindow := !t.Before(start) && t.Before(end)
				for done < w.pipe && (done+1)*w.size <= got {
					msg := w.rbuf[done*w.size : (done+1)*w.size]
					if err := w.pat.verify(msg, w.scratch, seq+uint64(done)); err != nil {
						return err
					}
					if inWindow {
						w.hist.record(uint64(t.Sub(t0)))
						w.msgs++
					}
					done++
				}
			}
			if err != nil && done < w.pipe {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("conn %d read (%d/%d echoed bytes): %w", w.pat.id, got, len(w.rbuf), err)
			}
		}
		seq += uint64(w.pipe)
	}
	return nil
}

// runWindow runs every worker over the measured window, after the
// warm-up, printing the phase markers around the window, and waits for
// them at most the I/O timeout and 5 s more once it has ended.
func runWindow[W interface {
	run(start, end time.Time, ioTimeout time.Duration) error
}](workers []W, o options, errs *errorLog) {
	start := time.Now().Add(o.warmup)
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(start, end, o.ioTimeout); err != nil {
				errs.add(err)
			}
		}()
	}
	time.Sleep(time.Until(start))
	phase("measure-start", "")
	time.Sleep(time.Until(end))
	phase("measure-end", "")

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(o.ioTimeout + 5*time.Second):
		errs.add(fmt.Errorf("connections still busy %v after the run ended", o.ioTimeout+5*time.Second))
	}
}

func runLoad(o options) Result {
	res := Result{Mode: "load", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: o.pipeline}
	var errs errorLog
	conns, retries, err := dialAll(o.dial, o.conns)
	res.DialRetries = retries
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	res.Established = len(conns)
	res.TLS = connTLSInfo(conns)
	workers := make([]*worker, len(conns))
	for i, c := range conns {
		workers[i] = &worker{
			conn: c, pat: newPattern(uint32(i), o.size), size: o.size, pipe: o.pipeline,
			wbuf: make([]byte, o.size*o.pipeline), rbuf: make([]byte, o.size*o.pipeline),
			scratch: make([]byte, o.size),
		}
	}
	runWindow(workers, o, &errs)
	closeAll(conns)

	var h histogram
	for _, w := range workers {
		h.merge(&w.hist)
		res.Messages += w.msgs
	}
	secs := o.duration.Seconds()
	res.DurationSec = secs
	res.MsgsPerSec = float64(res.Messages) / secs
	res.MBPerSec = float64(res.Messages) * float64(o.size) / secs / 1e6
	res.Latency = Latency{
		P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: h.max, Mean: h.mean(),
	}
	errs.fill(&res)
	return res
}

// runIdle opens o.conns connections, echoes one verified message on each so
// the server has certainly accepted and served it, then holds them.
func runIdle(o options) Result {
	res := Result{Mode: "idle", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: 1}
	var errs errorLog
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	cfg := o.dial
	if cfg.setup == nil { // -ws brings its own (handshake and echo)
		cfg.setup = echoSetup(o)
	}
	t0 := time.Now()
	conns, retries, err := dialAll(cfg, o.conns)
	res.DialRetries = retries
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	res.Established = len(conns)
	res.TLS = connTLSInfo(conns)
	phase("established", fmt.Sprintf("conns=%d setup_ms=%d", len(conns), time.Since(t0).Milliseconds()))
	t1 := time.Now()
	select {
	case s := <-sigs:
		phase("release", "signal="+s.String())
	case <-time.After(o.duration):
		phase("release", "timeout")
	}
	res.DurationSec = time.Since(t1).Seconds()
	closeAll(conns)
	errs.fill(&res)
	return res
}

func printHuman(w io.Writer, r Result) {
	fmt.Fprintf(w, "mode=%s addr=%s conns=%d size=%d pipeline=%d established=%d dial_retries=%d\n",
		r.Mode, r.Addr, r.Conns, r.Size, r.Pipeline, r.Established, r.DialRetries)
	if r.TLS != nil {
		fmt.Fprintf(w, "tls: %s %s %s\n", r.TLS.Version, r.TLS.Cipher, r.TLS.Curve)
	}
	if r.Mode == "handshake" {
		fmt.Fprintf(w, "full handshakes=%d in %.2fs: %.0f/s\n", r.Messages, r.DurationSec, r.MsgsPerSec)
	}
	if r.Mode == "ws-broadcast" && r.Spread != nil {
		fmt.Fprintf(w, "broadcasts=%d (trigger to last receipt below; receipt spread p50=%.1f max=%.1f us)\n",
			r.Broadcasts, float64(r.Spread.P50)/1e3, float64(r.Spread.Max)/1e3)
	}
	if r.Mode == "load" || r.Mode == "udp" || r.Mode == "handshake" || r.Mode == "ws-load" || r.Mode == "ws-broadcast" {
		us := func(ns uint64) float64 { return float64(ns) / 1e3 }
		if r.Mode != "handshake" {
			fmt.Fprintf(w, "messages=%d in %.2fs: %.0f msgs/s, %.2f MB/s\n", r.Messages, r.DurationSec, r.MsgsPerSec, r.MBPerSec)
		}
		if r.Mode == "udp" {
			fmt.Fprintf(w, "datagrams sent=%d lost=%d (%.3f%%; %d by timeout) late=%d retried_sends=%d\n",
				r.Sent, r.Lost, r.LossPct, r.LostByTimeout, r.Late, r.RetriedSends)
		}
		fmt.Fprintf(w, "latency us: p50=%.1f p90=%.1f p99=%.1f p99.9=%.1f max=%.1f mean=%.1f\n",
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max), r.Latency.Mean/1e3)
	} else {
		fmt.Fprintf(w, "held %.2fs\n", r.DurationSec)
	}
	fmt.Fprintf(w, "errors=%d", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " first: %s", r.FirstError)
	}
	fmt.Fprintln(w)
}

// echoSetup is the idle mode's dial hook: one verified echo of a
// size-byte message, so the server has surely accepted and served the
// connection.
func echoSetup(o options) func(i int, c net.Conn) error {
	return func(i int, c net.Conn) error {
		p := newPattern(uint32(i), o.size)
		buf := make([]byte, 2*o.size)
		p.fill(buf[:o.size], 0)
		if err := c.SetDeadline(time.Now().Add(o.ioTimeout)); err != nil {
			return err
		}
		if _, err := c.Write(buf[:o.size]); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf[o.size:]); err != nil {
			return err
		}
		if err := p.verify(buf[o.size:], buf[:o.size], 0); err != nil {
			return err
		}
		return c.SetDeadline(time.Time{})
	}
}
