package main

// Protocol workloads: HTTP/1.1 driven by wrk and RESP driven by
// redis-benchmark, each against its own set of servers. They reuse the echo
// runner's machinery (pinning, process handling, /proc CPU sampling, quiet
// check) but not its load generator: the external tool is the client, and the
// server's CPU time is sampled right before the tool starts and right after it
// exits.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// protoWorkload is an HTTP (wrk) or RESP (redis-benchmark) workload.
type protoWorkload struct {
	name     string
	kind     string // "http" or "resp"
	conns    int
	pipeline int
	servers  []string // contenders, in run order
	ref      string   // the row the ratios divide by
	ref2     string   // a second reference row ("": none)
	tls      bool     // HTTPS: servers started with their tlsArgs, wrk on https://
}

var protoWorkloads = []protoWorkload{
	{name: "http", kind: "http", conns: 256, pipeline: 1, servers: []string{"mill", "gnethttp", "fasthttp"}, ref: "gnethttp"},
	{name: "http-pipeline", kind: "http", conns: 256, pipeline: 16, servers: []string{"mill", "gnethttp", "fasthttp"}, ref: "gnethttp"},
	{name: "https", kind: "http", conns: 256, pipeline: 1, servers: []string{"mill", "nethttp", "nbhttp"}, ref: "nethttp", ref2: "nbhttp", tls: true},
	{name: "resp", kind: "resp", conns: 50, pipeline: 1, servers: []string{"mill", "redis-server"}, ref: "redis-server"},
	{name: "resp-pipeline", kind: "resp", conns: 50, pipeline: 16, servers: []string{"mill", "redis-server"}, ref: "redis-server"},
}

// respTests are the redis-benchmark tests: -t argument and the name it
// prints. Each runs in its own redis-benchmark invocation so that each gets
// its own server CPU figure ("-t ping" would run both PING tests).
var respTests = []struct{ arg, name string }{
	{"ping_inline", "PING_INLINE"}, {"ping_mbulk", "PING_MBULK"}, {"set", "SET"}, {"get", "GET"},
}

// protoServer is how to obtain and start one contender.
type protoServer struct {
	pkg     string // Go package built into binDir/bin; "" = bin is a program on PATH
	bin     string
	desc    string
	tlsArgs []string // what makes it serve HTTPS with a self-signed ECDSA P-256 certificate
	prof    bool     // takes -cpuprofile
}

var protoServers = map[string]protoServer{
	"http/mill": {pkg: "github.com/mill-io/mill/examples/http", bin: "mill-http", desc: "examples/http on mill: full HTTP/1.1 request parsing",
		tlsArgs: []string{"-tls-self-signed"}},
	"http/nethttp": {pkg: "./servers/nethttp", bin: "nethttp", desc: "servers/nethttp: net/http (crypto/tls for HTTPS), GOMAXPROCS = -loops",
		tlsArgs: []string{"-tls"}, prof: true},
	"http/nbhttp": {pkg: "./servers/nbhttp", bin: "nbhttp", desc: "servers/nbhttp: nbio's nbhttp, default settings (llib's crypto/tls fork with -aes for HTTPS), NPoller = GOMAXPROCS = -loops",
		tlsArgs: []string{"-tls", "-aes"}, prof: true},
	"http/gnethttp":     {pkg: "./servers/gnethttp", bin: "gnethttp", desc: `servers/gnethttp on gnet v2: "\r\n\r\n" scan, no header parsing`},
	"http/fasthttp":     {pkg: "./servers/fasthttp", bin: "fasthttp", desc: "servers/fasthttp: valyala/fasthttp, default settings, GOMAXPROCS = -loops"},
	"resp/mill":         {pkg: "github.com/mill-io/mill/examples/redis", bin: "mill-redis", desc: "examples/redis on mill"},
	"resp/redis-server": {bin: "redis-server", desc: "redis-server --save '' --appendonly no --io-threads 1"},
}

// pipelineScript is the wrk script of the pipelined HTTP workload; %d is
// the depth. wrk sends the string request() returns in one write, counts
// the requests in it once at start-up, and writes again once that many
// responses have been parsed. It counts every parsed response as a request.
const pipelineScript = `-- written by the mill benchmark runner
init = function(args)
  local r = {}
  for i = 1, %d do
    r[i] = wrk.format("GET", "/plaintext")
  end
  req = table.concat(r)
end

request = function()
  return req
end
`

func protoNames() []string {
	var n []string
	for _, w := range protoWorkloads {
		n = append(n, w.name)
	}
	return n
}

func findProto(name string) (protoWorkload, bool) {
	i := slices.IndexFunc(protoWorkloads, func(w protoWorkload) bool { return w.name == name })
	if i < 0 {
		return protoWorkload{}, false
	}
	return protoWorkloads[i], true
}

// splitProto separates the echo workloads from the protocol ones.
func splitProto(names []string) (echo, proto []string) {
	for _, n := range names {
		if _, ok := findProto(n); ok {
			proto = append(proto, n)
		} else {
			echo = append(echo, n)
		}
	}
	return echo, proto
}

// protoOpts are the runner flags the protocol runs obey.
type protoOpts struct {
	rounds    int
	quiet     float64
	quietWait time.Duration
	retries   int
	deadline  time.Time
}

// protoResult is one measured tool run: a wrk run, or one redis-benchmark
// test.
type protoResult struct {
	workload, server, test string // test: "" for HTTP
	round                  int
	err                    string
	requests               float64 // requests completed in the run
	rps                    float64 // as the tool reports it
	p50, p99               float64 // µs; NaN if unknown (or, with wrk, unreliable: pipelining)
	maxLat                 float64 // µs; the largest latency sample (wrk only; NaN otherwise)
	window                 float64 // seconds from just before the tool started to its exit
	srvCPU, toolCPU        float64 // CPU seconds in the window
	otherCPU               float64 // everything else on the pinned CPUs
	respBytes              int     // HTTP: size of one /plaintext response
}

func (r *protoResult) ok() bool { return r.err == "" }

// protoPlan is what prepareProto found and built.
type protoPlan struct {
	wls      []protoWorkload
	servers  map[string][]string // workload name -> contenders that built
	bins     map[string]string   // kind/server -> executable
	wrk, rb  string              // tool paths
	script   string              // wrk pipelining script
	notes    []string
	response map[string]string // http server -> first /plaintext response, Date masked
	// responseTLS is the same over HTTPS.
	responseTLS map[string]string
}

// prepareProto checks the tools, builds the contenders of the selected
// protocol workloads and writes the wrk script. Workloads whose tool is
// missing are dropped with a note.
func prepareProto(e *env, modDir string, names []string) *protoPlan {
	p := &protoPlan{servers: map[string][]string{}, bins: map[string]string{}, response: map[string]string{}, responseTLS: map[string]string{}}
	if len(names) == 0 {
		return p
	}
	look := func(prog string) string {
		path, err := exec.LookPath(prog)
		if err != nil {
			return ""
		}
		return path
	}
	p.wrk, p.rb = look("wrk"), look("redis-benchmark")
	redis := look("redis-server")
	versions := []string{}
	if p.wrk != "" {
		versions = append(versions, firstLine(combined(p.wrk, "-v")))
	}
	if p.rb != "" {
		versions = append(versions, firstLine(combined(p.rb, "--version")))
	}
	if redis != "" {
		versions = append(versions, firstLine(combined(redis, "--version")))
	}
	for _, n := range names {
		w, _ := findProto(n)
		var missing []string
		if w.kind == "http" && p.wrk == "" {
			missing = append(missing, "wrk")
		}
		if w.kind == "resp" {
			if p.rb == "" {
				missing = append(missing, "redis-benchmark")
			}
			if redis == "" {
				missing = append(missing, "redis-server")
			}
		}
		if len(missing) > 0 {
			msg := fmt.Sprintf("workload %s skipped: %s not found on PATH (Debian: apt-get install -y wrk redis-server redis-tools)",
				n, strings.Join(missing, ", "))
			fmt.Fprintln(os.Stderr, "runner:", msg)
			p.notes = append(p.notes, msg)
			continue
		}
		p.wls = append(p.wls, w)
	}
	if len(p.wls) == 0 {
		return p
	}
	p.notes = append(p.notes, "protocol load tools: "+strings.Join(versions, "; "))

	failed := map[string]bool{}
	for _, w := range p.wls {
		for _, s := range w.servers {
			key := w.kind + "/" + s
			if _, done := p.bins[key]; !done && !failed[key] {
				ps := protoServers[key]
				var err error
				if ps.pkg == "" {
					p.bins[key] = redis
				} else if err = build(modDir, e.binDir, ps.bin, ps.pkg); err == nil {
					p.bins[key] = filepath.Join(e.binDir, ps.bin)
				} else {
					failed[key] = true
					fmt.Fprintf(os.Stderr, "runner: %s server %s does not build, skipping it:\n%v\n", w.kind, s, err)
					p.notes = append(p.notes, fmt.Sprintf("%s server %s skipped: build failed (%s)", w.kind, s, firstLine(err.Error())))
				}
			}
			if _, ok := p.bins[key]; ok {
				p.servers[w.name] = append(p.servers[w.name], s)
			}
		}
	}
	p.script = filepath.Join(e.binDir, "pipeline16.lua")
	if err := os.WriteFile(p.script, []byte(fmt.Sprintf(pipelineScript, 16)), 0o644); err != nil {
		fatal(err)
	}
	for _, w := range p.wls {
		if w.kind == "http" && w.pipeline != 1 && w.pipeline != 16 {
			fatal(fmt.Errorf("workload %s: only pipeline depth 16 has a script", w.name))
		}
	}
	return p
}

func combined(name string, args ...string) string {
	b, _ := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(b))
}

// run measures every selected protocol workload: for each round, each
// contender in turn. port is advanced for every server started.
func (p *protoPlan) run(e *env, o protoOpts, port *int) []protoResult {
	var results []protoResult
	for _, w := range p.wls {
		for r := 1; r <= o.rounds; r++ {
			for _, s := range p.servers[w.name] {
				if time.Now().After(o.deadline) {
					p.notes = append(p.notes, "protocol workloads stopped early: -timeout reached")
					return results
				}
				fmt.Printf("== %s round %d/%d: %s\n", w.name, r, o.rounds, s)
				res := p.runServer(e, o, w, s, r, *port)
				*port++
				for _, x := range res {
					if x.ok() {
						fmt.Println("   ", protoSummary(x))
					} else {
						fmt.Println("    FAILED:", protoLabel(x), x.err)
					}
				}
				results = append(results, res...)
			}
		}
	}
	return results
}

func protoLabel(r protoResult) string {
	if r.test == "" {
		return ""
	}
	return r.test + ": "
}

func protoSummary(r protoResult) string {
	return fmt.Sprintf("%s%.0f req/s, p50 %s µs, p99 %s µs, max %s µs, server %.3f µs CPU/req (server %.0f%%, tool %.0f%%, other %.0f%% of a CPU)",
		protoLabel(r), r.rps, num(r.p50, 0), num(r.p99, 0), num(r.maxLat, 0), protoCPUPerReq(r),
		pct(r.srvCPU, r.window), pct(r.toolCPU, r.window), pct(r.otherCPU, r.window))
}

// runServer starts one contender and runs the workload's tool against it:
// one result for HTTP, one per test for RESP. Failures before measuring are
// recorded on every result.
func (p *protoPlan) runServer(e *env, o protoOpts, w protoWorkload, server string, round, port int) (results []protoResult) {
	tests := []string{""}
	if w.kind == "resp" {
		tests = nil
		for _, t := range respTests {
			tests = append(tests, t.name)
		}
	}
	failAll := func(format string, a ...any) []protoResult {
		msg := fmt.Sprintf(format, a...)
		if len(results) == 0 {
			for _, t := range tests {
				results = append(results, protoResult{workload: w.name, server: server, test: t, round: round, err: msg})
			}
			return results
		}
		for i := range results {
			if results[i].err == "" {
				results[i].err = msg
			}
		}
		return results
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitPortFree("tcp", addr, 5*time.Second); err != nil {
		return failAll("%v", err)
	}
	logPath := filepath.Join(e.binDir, fmt.Sprintf("%s-%s-%d.log", server, w.name, round))
	logf, err := os.Create(logPath)
	if err != nil {
		return failAll("%v", err)
	}
	defer logf.Close()
	args := []string{p.bins[w.kind+"/"+server]}
	if server == "redis-server" {
		args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--io-threads", "1", "--daemonize", "no", "--dir", e.binDir, "--loglevel", "warning")
	} else {
		args = append(args, "-addr", addr, "-loops", strconv.Itoa(e.loops))
	}
	if ps := protoServers[w.kind+"/"+server]; w.tls {
		args = append(args, ps.tlsArgs...)
	}
	if ps := protoServers[w.kind+"/"+server]; ps.prof && e.profDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(e.profDir, fmt.Sprintf("%s-%s-%d.pprof", server, w.name, round)))
	}
	srv, err := start(e.serverCPU, args, logf, logf)
	if err != nil {
		return failAll("%v", err)
	}
	defer func() {
		if srv.stop(2 * time.Second) {
			failAll("server exited during the run: %v; server log tail: %s", srv.err, tailFile(logPath, 5))
		}
		if err := waitPortFree("tcp", addr, 5*time.Second); err != nil {
			failAll("%v", err)
		}
	}()
	ready := waitAccepting
	if w.tls {
		ready = waitHandshaking
	}
	if err := ready(addr, srv, 10*time.Second); err != nil {
		return failAll("%v", err)
	}

	switch w.kind {
	case "http":
		size, masked, err := checkHTTP(addr, w.tls)
		if err != nil {
			return failAll("response check: %v", err)
		}
		if _, seen := p.response[server]; !seen && !w.tls {
			p.response[server] = masked
		}
		if _, seen := p.responseTLS[server]; !seen && w.tls {
			p.responseTLS[server] = masked
		}
		res := p.runWrk(e, o, w, server, round, addr, srv)
		res.respBytes = size
		results = append(results, res)
	case "resp":
		if err := checkRESP(addr); err != nil {
			return failAll("reply check: %v", err)
		}
		for _, t := range respTests {
			results = append(results, p.runRedisBenchmark(e, o, w, server, round, port, srv, t.arg, t.name))
		}
	}
	return results
}

// toolRun is one run of a load tool with the CPU times around it.
type toolRun struct {
	stdout, stderr   string
	err              error
	timedOut         bool
	window           float64
	srvCPU, toolCPU  float64
	otherCPU         float64
	srvDiedDuringRun bool
}

// measureTool runs args pinned to the client CPU, bounded by limit, and
// samples the server's and the pinned CPUs' busy time right before the start
// and right after the exit. The tool's own CPU time comes from its rusage.
func measureTool(e *env, srv *proc, args []string, limit time.Duration) toolRun {
	var tr toolRun
	var stdout, stderr bytes.Buffer
	s0, _ := cpuSeconds(srv.pid)
	b0, _ := busySeconds(e.cpus)
	t0 := time.Now()
	p, err := start(e.clientCPU, args, &stdout, &stderr)
	if err != nil {
		tr.err = err
		return tr
	}
	tr.err, tr.timedOut = p.waitTimeout(limit)
	tr.window = time.Since(t0).Seconds()
	s1, serr := cpuSeconds(srv.pid)
	b1, _ := busySeconds(e.cpus)
	tr.srvDiedDuringRun = serr != nil || srv.exited()
	if ps := p.cmd.ProcessState; ps != nil {
		tr.toolCPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	tr.srvCPU = s1 - s0
	tr.otherCPU = max(0, (b1-b0)-tr.srvCPU-tr.toolCPU)
	tr.stdout, tr.stderr = stdout.String(), stderr.String()
	return tr
}

// measured runs one measurement after waiting for quiet CPUs, and repeats it
// (up to o.retries times) while other load took more than o.quiet % of a CPU.
func (p *protoPlan) measured(o protoOpts, e *env, label string, run func() protoResult) protoResult {
	for attempt := 0; ; attempt++ {
		if o.quiet > 0 {
			if load, ok := waitQuiet(e.cpus, o.quiet, o.quietWait); !ok {
				fmt.Printf("   (machine busy: %.0f%% CPU used by other processes before the run)\n", load)
			}
		}
		res := run()
		if !res.ok() || o.quiet <= 0 {
			return res
		}
		other := pct(res.otherCPU, res.window)
		if other <= o.quiet {
			return res
		}
		if attempt >= o.retries {
			p.notes = append(p.notes, fmt.Sprintf("%s round %d kept although disturbed (%.0f%% other CPU after %d repeats)",
				label, res.round, other, attempt))
			return res
		}
		fmt.Printf("    %s disturbed (%.0f%% other CPU), repeating\n", label, other)
	}
}

func wrkSeconds(d time.Duration) int { return max(1, int(math.Round(d.Seconds()))) }

// runWrk warms the server up with one wrk run of -warmup and measures a
// second one of -duration (wrk takes whole seconds).
func (p *protoPlan) runWrk(e *env, o protoOpts, w protoWorkload, server string, round int, addr string, srv *proc) protoResult {
	args := func(d time.Duration) []string {
		a := []string{p.wrk, "-t1", "-c" + strconv.Itoa(w.conns), "-d" + strconv.Itoa(wrkSeconds(d)) + "s", "--timeout", "2s", "--latency"}
		if w.pipeline > 1 {
			a = append(a, "-s", p.script)
		}
		scheme := "http://"
		if w.tls {
			scheme = "https://"
		}
		return append(a, scheme+addr+"/plaintext")
	}
	one := func(d time.Duration) (protoResult, toolRun) {
		res := protoResult{workload: w.name, server: server, round: round, p50: math.NaN(), p99: math.NaN(), maxLat: math.NaN()}
		tr := measureTool(e, srv, args(d), time.Duration(wrkSeconds(d))*time.Second+60*time.Second)
		res.window, res.srvCPU, res.toolCPU, res.otherCPU = tr.window, tr.srvCPU, tr.toolCPU, tr.otherCPU
		switch {
		case tr.srvDiedDuringRun:
			res.err = "server died during the wrk run"
		case tr.timedOut:
			res.err = "wrk did not finish in time (killed)"
		case tr.err != nil:
			res.err = fmt.Sprintf("wrk: %v: %s", tr.err, lastLines(tr.stdout+tr.stderr, 3))
		}
		if res.err != "" {
			return res, tr
		}
		wr, err := parseWrk(tr.stdout)
		if err == nil {
			err = wr.check()
		}
		if err != nil {
			res.err = fmt.Sprintf("%v (output: %s)", err, lastLines(tr.stdout+tr.stderr, 4))
			return res, tr
		}
		res.requests, res.rps, res.maxLat = wr.requests, wr.rps, wr.latMax
		if w.pipeline == 1 { // see wrkResult: wrong with pipelining
			res.p50, res.p99 = wr.p50, wr.p99
		}
		return res, tr
	}
	if e.warmup > 0 {
		if res, _ := one(e.warmup); !res.ok() {
			res.err = "warm-up: " + res.err
			return res
		}
	}
	return p.measured(o, e, w.name+"/"+server, func() protoResult { res, _ := one(e.duration); return res })
}

// runRedisBenchmark runs one redis-benchmark test: a calibration run of
// 10 000 × pipeline requests, a warm-up of about -warmup, and the measured run
// with -n chosen from the warm-up's rate to last about -duration.
func (p *protoPlan) runRedisBenchmark(e *env, o protoOpts, w protoWorkload, server string, round, port int, srv *proc, arg, name string) protoResult {
	one := func(n int, limit time.Duration) protoResult {
		res := protoResult{workload: w.name, server: server, test: name, round: round, p50: math.NaN(), p99: math.NaN(), maxLat: math.NaN()}
		args := []string{p.rb, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", strconv.Itoa(w.conns),
			"-n", strconv.Itoa(n), "-t", arg, "-P", strconv.Itoa(w.pipeline), "-q", "--csv"}
		tr := measureTool(e, srv, args, limit)
		res.window, res.srvCPU, res.toolCPU, res.otherCPU = tr.window, tr.srvCPU, tr.toolCPU, tr.otherCPU
		switch {
		case tr.srvDiedDuringRun:
			res.err = "server died during the redis-benchmark run"
			return res
		case tr.timedOut:
			// redis-benchmark retries a refused connection forever.
			res.err = fmt.Sprintf("redis-benchmark did not finish within %v (killed): %s", limit, lastLines(tr.stderr, 3))
			return res
		}
		rows, err := parseRedisBenchmark(tr.stdout)
		var row rbRow
		if err == nil {
			row, err = checkRedisBenchmark(tr.err, tr.stderr, rows, name)
		}
		if err != nil {
			res.err = fmt.Sprintf("%v (stderr: %s)", err, lastLines(tr.stderr, 3))
			return res
		}
		res.requests, res.rps, res.p50, res.p99, res.maxLat = float64(n), row.rps, row.p50*1e3, row.p99*1e3, row.max*1e3
		return res
	}
	// n for a run of about d at rate: bounded so that a wildly wrong
	// estimate cannot make a run huge (the time limit still applies).
	size := func(rate float64, d time.Duration) int {
		n := rate * d.Seconds()
		return int(min(max(n, 10_000), 100_000_000)/1000) * 1000
	}
	limit := func(n int, rate float64) time.Duration {
		return time.Duration(float64(n)/rate*float64(time.Second)) + 60*time.Second
	}
	cal := one(10_000*w.pipeline, 60*time.Second)
	if !cal.ok() {
		cal.err = "calibration: " + cal.err
		return cal
	}
	rate := cal.rps
	if e.warmup > 0 {
		n := size(rate, e.warmup)
		wu := one(n, limit(n, rate))
		if !wu.ok() {
			wu.err = "warm-up: " + wu.err
			return wu
		}
		rate = wu.rps
	}
	n := size(rate, e.duration)
	return p.measured(o, e, w.name+"/"+server+"/"+name, func() protoResult { return one(n, limit(n, rate)) })
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "[" + strings.Join(lines, " / ") + "]"
}

// plaintextBody is what GET /plaintext must return.
const plaintextBody = "Hello, World!"

// checkHTTP sends two pipelined GET /plaintext requests and checks both
// responses: 200, Content-Type text/plain, a Date, the 13-byte body. It
// returns the first response's size and its bytes with the Date value masked.
// With useTLS it speaks HTTPS (HTTP/1.1 without ALPN, as wrk does; the
// certificate is not verified: servers make a throw-away one).
func checkHTTP(addr string, useTLS bool) (size int, masked string, err error) {
	var c net.Conn
	c, err = net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if useTLS {
		tc := tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return 0, "", fmt.Errorf("tls handshake: %w", err)
		}
		c = tc
	}
	req := "GET /plaintext HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	if _, err := io.WriteString(c, req+req); err != nil {
		return 0, "", err
	}
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		raw, m, err := readPlaintextResponse(br)
		if err != nil {
			return 0, "", fmt.Errorf("response %d: %v", i+1, err)
		}
		if i == 0 {
			size, masked = len(raw), m
		}
	}
	return size, masked, nil
}

// readPlaintextResponse reads one response to GET /plaintext and validates
// it. masked is the raw response with the Date value replaced by "<date>".
func readPlaintextResponse(br *bufio.Reader) (raw []byte, masked string, err error) {
	var head, mask strings.Builder
	status := ""
	length := -1
	var ctype, date string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		head.WriteString(line)
		if !strings.HasSuffix(line, "\r\n") {
			return nil, "", fmt.Errorf("line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if status == "" {
			status = line
			mask.WriteString(line + "\r\n")
			continue
		}
		if line == "" {
			mask.WriteString("\r\n")
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, "", fmt.Errorf("bad header line %q", line)
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.Atoi(v); err != nil {
				return nil, "", fmt.Errorf("bad Content-Length %q", v)
			}
		case "content-type":
			ctype = v
		case "date":
			date = v
			line = k + ": <date>"
		}
		mask.WriteString(line + "\r\n")
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		return nil, "", fmt.Errorf("status line %q", status)
	}
	if length != len(plaintextBody) {
		return nil, "", fmt.Errorf("Content-Length %d, want %d", length, len(plaintextBody))
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		return nil, "", fmt.Errorf("Content-Type %q", ctype)
	}
	if _, err := time.Parse(time.RFC1123, date); err != nil || !strings.HasSuffix(date, " GMT") {
		return nil, "", fmt.Errorf("Date %q is not an IMF-fixdate", date)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, "", err
	}
	if string(body) != plaintextBody {
		return nil, "", fmt.Errorf("body %q", body)
	}
	return append([]byte(head.String()), body...), mask.String() + string(body), nil
}

// checkRESP sends PING, SET, GET (arrays of bulk strings) and an inline PING
// in one write and expects the exact replies.
func checkRESP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	const req = "*1\r\n$4\r\nPING\r\n" +
		"*3\r\n$3\r\nSET\r\n$14\r\nmillbench:test\r\n$5\r\nvalue\r\n" +
		"*2\r\n$3\r\nGET\r\n$14\r\nmillbench:test\r\n" +
		"PING\r\n"
	const want = "+PONG\r\n+OK\r\n$5\r\nvalue\r\n+PONG\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 256)
	for len(got) < len(want) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("after %q: %v", got, err)
		}
	}
	if string(got) != want {
		return fmt.Errorf("replies %q, want %q", got, want)
	}
	return nil
}

// protoCPUPerReq is server CPU µs per request.
func protoCPUPerReq(r protoResult) float64 {
	if !(r.requests > 0) {
		return math.NaN()
	}
	return r.srvCPU / r.requests * 1e6
}

// shellJoin joins args for display, single-quoting the ones a shell would
// not take verbatim (such as redis-server's empty --save argument).
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
