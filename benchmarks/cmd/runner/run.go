package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type workload struct {
	name     string
	conns    int // UDP: sender sockets
	size     int
	pipeline int // UDP: datagrams in flight per sender
	idle     bool
	udp      bool // UDP echo, driven by loadgen -udp, against udpServers only
	// tls: driven by loadgen -tls against the TLS servers only (see
	// serverSpecs); handshake: loadgen -handshake, conns = concurrent
	// handshakers, messages = completed full handshakes.
	tls, handshake bool
	// ws: driven by the load generator's -ws mode (cload's by default,
	// loadgen's with -client go) against the WebSocket servers only;
	// broadcast: loadgen -ws -broadcast (messages = deliveries), which
	// cload does not have.
	ws, broadcast bool
}

var allWorkloads = []workload{
	{name: "pingpong", conns: 100, size: 64, pipeline: 1},
	{name: "pipeline", conns: 100, size: 64, pipeline: 16},
	{name: "conns1k", conns: 1000, size: 512, pipeline: 1},
	{name: "large", conns: 10, size: 64 << 10, pipeline: 1},
	{name: "idle10k", conns: 10000, size: 16, pipeline: 1, idle: true},
	// Opt-in UDP echo. A server's default receive buffer (rmem_default,
	// 208 KiB) queues about 256 datagrams of 64 B on loopback:
	// udp-window16 keeps 128 in flight, udp-overload 1024 (drops expected).
	{name: "udp", conns: 64, size: 64, pipeline: 1, udp: true},
	{name: "udp-window16", conns: 8, size: 64, pipeline: 16, udp: true},
	{name: "udp-overload", conns: 64, size: 64, pipeline: 16, udp: true},
	// Opt-in TLS (loadgen -tls, TLS 1.3, X25519, ECDSA P-256 certificates).
	{name: "tls-echo", conns: 100, size: 64, pipeline: 1, tls: true},
	{name: "tls-bulk", conns: 10, size: 64 << 10, pipeline: 1, tls: true},
	{name: "tls-handshake", conns: 16, size: 1, pipeline: 1, tls: true, handshake: true},
	{name: "tls-idle", conns: 10000, size: 16, pipeline: 1, idle: true, tls: true},
	// Opt-in WebSocket (loadgen -ws; servers ws*).
	{name: "ws-echo", conns: 100, size: 64, pipeline: 1, ws: true},
	{name: "ws-echo-16k", conns: 100, size: 16 << 10, pipeline: 1, ws: true},
	{name: "ws-echo-p16", conns: 100, size: 64, pipeline: 16, ws: true}, // saturates the server, not the client
	{name: "ws-idle", conns: 10000, size: 64, pipeline: 1, idle: true, ws: true},
	{name: "ws-broadcast", conns: 10000, size: 64, pipeline: 1, ws: true, broadcast: true},
}

// wsSrcIPs are the source addresses of the WebSocket workloads' client
// sockets (loadgen -src), so that 10 000 connections per run, round after
// round, never run short of ephemeral ports.
var wsSrcIPs = "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5"

// serverSpec is how an echo contender is built and started.
type serverSpec struct {
	bin  string   // binary in binDir (several contenders may share one)
	src  string   // Go package, or C file with c
	c    bool     // built with gcc
	args []string // after -addr and -loops
	tls  bool     // serves the TLS workloads (and only those)
	ws   bool     // serves the WebSocket workloads (and only those)
	tags string   // go build -tags
	prof bool     // takes -cpuprofile
}

var serverSpecs = map[string]serverSpec{
	"mill":   {bin: "mill", src: "./servers/mill", prof: true},
	"gnet":   {bin: "gnet", src: "./servers/gnet"},
	"stdlib": {bin: "stdlib", src: "./servers/stdlib", prof: true},
	"cepoll": {bin: "cepoll", src: "servers/cepoll/echo.c", c: true},
	// TLS: mill.WithTLS, net + crypto/tls (goroutine per connection), and
	// nbio with llib's crypto/tls fork told to prefer AES-GCM like the
	// others (internal/llibaes).
	"mill-tls":   {bin: "mill", src: "./servers/mill", args: []string{"-tls"}, tls: true, prof: true},
	"stdlib-tls": {bin: "stdlib", src: "./servers/stdlib", args: []string{"-tls"}, tls: true, prof: true},
	"nbio-tls":   {bin: "nbio", src: "./servers/nbio", args: []string{"-tls", "-aes"}, tls: true, prof: true},
	// WebSocket echo and broadcast (see internal/wsbcast); wsmill-batch
	// is wsmill with mill.WithWriteBatching.
	"wsmill":       {bin: "wsmill", src: "./servers/wsmill", ws: true, prof: true},
	"wsmill-batch": {bin: "wsmill", src: "./servers/wsmill", args: []string{"-batch"}, ws: true, prof: true},
	"wsgorilla":    {bin: "wsgorilla", src: "./servers/wsgorilla", ws: true, prof: true},
	"wsnbio":       {bin: "wsnbio", src: "./servers/wsnbio", ws: true, prof: true},
	"wsgws":        {bin: "wsgws", src: "./servers/wsgws", ws: true, prof: true},
}

// wsRef is the row the WebSocket workloads' ratios divide by.
const wsRef = "wsgorilla"

// tlsRefs are the rows the TLS workloads' ratios divide by.
var tlsRefs = [2]string{"stdlib-tls", "nbio-tls"}

// udpServers are the echo servers with a -udp mode (cepoll has none).
var udpServers = []string{"mill", "gnet", "stdlib"}

// udpGenBin is the load generator of the UDP workloads (cmd/loadgen -udp),
// whatever -client says: cload has no UDP mode.
const udpGenBin = "loadgen"

// serves reports whether server takes part in workload w.
func serves(w workload, server string) bool {
	if serverSpecs[server].tls != w.tls || serverSpecs[server].ws != w.ws {
		return false
	}
	return !w.udp || slices.Contains(udpServers, server)
}

// genBinFor is the load generator binary of workload w: cload has no UDP,
// TLS or WebSocket broadcast mode.
func genBinFor(e *env, w workload) string {
	if w.udp || w.tls || w.broadcast {
		return udpGenBin
	}
	return e.genBin
}

func (w workload) network() string {
	if w.udp {
		return "udp"
	}
	return "tcp"
}

// loadgenResult mirrors the JSON printed by cmd/loadgen and cmd/cload.
type loadgenResult struct {
	Established int     `json:"established"`
	DialRetries int64   `json:"dial_retries"`
	Messages    uint64  `json:"messages"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	Latency     struct {
		P50 uint64 `json:"p50_ns"`
		P99 uint64 `json:"p99_ns"`
		Max uint64 `json:"max_ns"`
	} `json:"latency"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error"`

	// TLS only (loadgen -tls / -handshake): what was negotiated.
	// WebSocket broadcast only (loadgen -ws -broadcast).
	Broadcasts uint64 `json:"broadcasts"`
	Spread     *struct {
		P50 uint64 `json:"p50_ns"`
		P99 uint64 `json:"p99_ns"`
		Max uint64 `json:"max_ns"`
	} `json:"spread"`

	TLS *struct {
		Version string `json:"version"`
		Cipher  string `json:"cipher"`
		Curve   string `json:"curve"`
	} `json:"tls"`

	// UDP only (loadgen -udp).
	Sent          uint64  `json:"sent"`
	Lost          uint64  `json:"lost"`
	LostByTimeout uint64  `json:"lost_by_timeout"`
	LossPct       float64 `json:"loss_pct"`
	Late          uint64  `json:"late"`
}

// runResult is one (workload, server, round) measurement.
type runResult struct {
	workload, server string
	round            int
	err              string
	gen              loadgenResult
	window           float64 // seconds between the measure markers
	srvCPU, genCPU   float64 // CPU seconds consumed inside the window
	otherCPU         float64 // CPU seconds used by anything else on the pinned CPUs
	rssBefore        int64
	rssAfter         int64
	rcvbufErrs       float64 // UDP: the kernel's Udp RcvbufErrors over the window (system-wide)
}

func (r *runResult) ok() bool { return r.err == "" }

type env struct {
	binDir    string
	genBin    string // load generator binary in binDir (cload or loadgen)
	loops     int
	serverCPU string
	clientCPU string
	duration  time.Duration
	warmup    time.Duration
	settle    time.Duration
	cpus      []int  // CPUs the benchmark is pinned to (empty: all)
	profDir   string // -cpuprofile: servers that take it write a profile here
}

// phaseSampler records CPU times of the server and loadgen at each marker.
type phaseSampler struct {
	mu                  sync.Mutex
	srvPid, genPid      int
	at                  map[string]time.Time
	cpus                []int
	srv, gen, sys       map[string]float64
	rcvbuf              map[string]float64 // /proc/net/snmp Udp RcvbufErrors
	established         chan struct{}
	establishedSignaled bool
}

func newSampler(srvPid int, cpus []int) *phaseSampler {
	return &phaseSampler{srvPid: srvPid, cpus: cpus, at: map[string]time.Time{},
		srv: map[string]float64{}, gen: map[string]float64{}, sys: map[string]float64{},
		rcvbuf: map[string]float64{}, established: make(chan struct{})}
}

func (p *phaseSampler) onPhase(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at[name] = time.Now()
	// A failed read (the loadgen exited before this marker was handled,
	// say) must not pass for 0 s: NaN fails the run's quiet check, so it
	// is repeated, and shows as n/a if kept.
	sample := func(v float64, err error) float64 {
		if err != nil {
			return math.NaN()
		}
		return v
	}
	p.srv[name] = sample(cpuSeconds(p.srvPid))
	p.gen[name] = sample(cpuSeconds(p.genPid))
	p.sys[name] = sample(busySeconds(p.cpus))
	v, err := udpRcvbufErrors()
	p.rcvbuf[name] = sample(float64(v), err)
	if name == "established" && !p.establishedSignaled {
		p.establishedSignaled = true
		close(p.established)
	}
}

// runOne starts the server, drives it with loadgen and stops it again.
func runOne(e *env, w workload, server string, round, port int) (res runResult) {
	res = runResult{workload: w.name, server: server, round: round}
	fail := func(format string, a ...any) {
		if res.err == "" {
			res.err = fmt.Sprintf(format, a...)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	network := w.network()
	if err := waitPortFree(network, addr, 5*time.Second); err != nil {
		fail("%v", err)
		return res
	}
	logPath := filepath.Join(e.binDir, fmt.Sprintf("%s-%s-%d.log", server, w.name, round))
	logf, err := os.Create(logPath)
	if err != nil {
		fail("%v", err)
		return res
	}
	defer logf.Close()
	spec := serverSpecs[server]
	srvArgs := []string{filepath.Join(e.binDir, spec.bin), "-addr", addr, "-loops", strconv.Itoa(e.loops)}
	srvArgs = append(srvArgs, spec.args...)
	if w.udp {
		srvArgs = append(srvArgs, "-udp")
	}
	if e.profDir != "" && spec.prof {
		srvArgs = append(srvArgs, "-cpuprofile", filepath.Join(e.profDir, fmt.Sprintf("%s-%s-%d.pprof", server, w.name, round)))
	}
	srv, err := start(e.serverCPU, srvArgs, logf, logf)
	if err != nil {
		fail("%v", err)
		return res
	}
	stopped := false
	stopServer := func() {
		if stopped {
			return
		}
		stopped = true
		if srv.stop(2 * time.Second) {
			fail("server exited during the run: %v; server log tail: %s", srv.err, tailFile(logPath, 5))
		}
	}
	defer func() {
		stopServer()
		if err := waitPortFree(network, addr, 5*time.Second); err != nil {
			fail("%v", err)
		}
	}()
	ready := waitAccepting
	if w.udp {
		ready = waitEchoingUDP
	}
	if w.tls {
		ready = waitHandshaking
	}
	if err := ready(addr, srv, 10*time.Second); err != nil {
		fail("%v", err)
		return res
	}

	args := []string{filepath.Join(e.binDir, genBinFor(e, w)), "-json", "-addr", addr,
		"-conns", strconv.Itoa(w.conns), "-size", strconv.Itoa(w.size)}
	if w.udp {
		args = append(args, "-udp")
	}
	if w.ws {
		args = append(args, "-ws", "-src", wsSrcIPs)
		if w.broadcast {
			args = append(args, "-broadcast")
		}
	}
	if w.handshake {
		args = append(args, "-handshake")
	} else if w.tls {
		args = append(args, "-tls")
	}
	var limit time.Duration
	if w.idle {
		time.Sleep(300 * time.Millisecond)
		if res.rssBefore, err = rssBytes(srv.pid); err != nil {
			fail("server RSS before connecting: %v", err)
			return res
		}
		args = append(args, "-idle", "-duration", "300s")
		limit = 240 * time.Second
	} else {
		args = append(args, "-pipeline", strconv.Itoa(w.pipeline),
			"-duration", e.duration.String(), "-warmup", e.warmup.String())
		limit = e.warmup + e.duration + 120*time.Second // loadgen's own dial/io bounds are smaller
	}
	ps := newSampler(srv.pid, e.cpus)
	var stdout bytes.Buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		fail("%v", err)
		return res
	}
	gen, err := start(e.clientCPU, args, &stdout, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		fail("%v", err)
		return res
	}
	ps.genPid = gen.pid // set before the watcher below reads it
	watch := watchMarkers(pr, ps.onPhase)

	if w.idle {
		// Once every connection is established and has echoed once, let the
		// server settle and sample its RSS. Then stop the server first (so
		// TIME_WAIT stays on its side, not on client ports) and release loadgen.
		select {
		case <-ps.established:
			time.Sleep(e.settle)
			if res.rssAfter, err = rssBytes(srv.pid); err != nil {
				fail("server RSS after connecting: %v", err)
			}
		case <-gen.done:
			fail("loadgen exited before establishing connections: %v", gen.err)
		case <-srv.done:
		case <-time.After(limit):
			fail("idle connections not established within %v", limit)
		}
		stopServer()
		gen.stop(5 * time.Second)
	} else if err, timedOut := gen.waitTimeout(limit); timedOut {
		fail("loadgen timed out after %v", limit)
	} else if err != nil && srv.exited() {
		stopServer() // reports the server's death rather than loadgen's symptom
	} else if err != nil {
		fail("loadgen: %v", err)
	}
	<-watch.done
	pr.Close()
	if jerr := json.Unmarshal(stdout.Bytes(), &res.gen); jerr != nil {
		fail("bad loadgen output: %v", jerr)
	}
	if res.gen.Errors > 0 {
		fail("%d loadgen errors, first: %s", res.gen.Errors, res.gen.FirstError)
	}
	if res.err != "" {
		res.err += " | loadgen stderr: " + watch.lastLines()
		return res
	}
	if !w.idle {
		ps.mu.Lock()
		t0, ok0 := ps.at["measure-start"]
		t1, ok1 := ps.at["measure-end"]
		if ok0 && ok1 {
			res.window = t1.Sub(t0).Seconds()
			res.srvCPU = ps.srv["measure-end"] - ps.srv["measure-start"]
			res.genCPU = ps.gen["measure-end"] - ps.gen["measure-start"]
			sys := ps.sys["measure-end"] - ps.sys["measure-start"]
			res.otherCPU = max(0, sys-res.srvCPU-res.genCPU)
			res.rcvbufErrs = ps.rcvbuf["measure-end"] - ps.rcvbuf["measure-start"]
		} else {
			fail("loadgen printed no measure markers")
		}
		ps.mu.Unlock()
	}
	return res
}

// tailFile returns the last n lines of a (small) log file, joined by " / ".
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "[" + strings.Join(lines, " / ") + "]"
}
