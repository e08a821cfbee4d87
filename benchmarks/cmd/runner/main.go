// Command runner builds the echo servers and the load generator, runs every
// workload against every server in turn for several rounds (server pinned to
// one CPU, loadgen to another), and prints a markdown table of medians.
//
// The load generator is cmd/cload (single-threaded C epoll, built with gcc;
// the default) or cmd/loadgen (Go, goroutine per connection) with -client go.
// Both take the same flags and print the same phase markers and JSON.
// The opt-in UDP workloads (udp, udp-window16, udp-overload) always use
// cmd/loadgen -udp and run mill, gnet and stdlib only; the TLS workloads
// and ws-broadcast always use cmd/loadgen too.
//
//	cd benchmarks && go run ./cmd/runner -rounds 3
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// allServers are the echo contenders; the -tls ones serve only the TLS
// workloads, the others only the plaintext ones (see serverSpecs).
var allServers = []string{"mill", "gnet", "stdlib", "cepoll", "mill-tls", "stdlib-tls", "nbio-tls",
	"wsmill", "wsmill-batch", "wsgorilla", "wsnbio", "wsgws"}

// clients are the selectable load generators (-client).
var clients = map[string]struct{ bin, desc string }{
	"c":  {"cload", "cload (cmd/cload/cload.c: single-threaded C epoll, gcc -O2)"},
	"go": {"loadgen", "loadgen (cmd/loadgen: Go, one goroutine per connection)"},
}

func main() {
	var (
		servers   = flag.String("servers", strings.Join(allServers, ","), "comma-separated servers to run")
		client    = flag.String("client", "c", "load generator: c (cmd/cload, C epoll) or go (cmd/loadgen)")
		workloads = flag.String("workloads", "pingpong,pipeline,conns1k,large,idle10k", "comma-separated workloads (opt-in: udp,udp-window16,udp-overload; tls-echo,tls-bulk,tls-handshake,tls-idle; ws-echo,ws-echo-16k,ws-echo-p16,ws-idle,ws-broadcast; and the protocol workloads)")
		rounds    = flag.Int("rounds", 3, "rounds per workload; each round runs every server once")
		duration  = flag.Duration("duration", 5*time.Second, "measured duration per run")
		warmup    = flag.Duration("warmup", time.Second, "warm-up per run before measuring")
		settle    = flag.Duration("settle", time.Second, "idle10k: wait after connecting before sampling RSS")
		loops     = flag.Int("loops", 1, "-loops passed to every server")
		serverCPU = flag.String("servercpu", "0", "taskset CPU list for servers (empty: no pinning)")
		clientCPU = flag.String("clientcpu", "1", "taskset CPU list for loadgen (empty: no pinning)")
		port      = flag.Int("port", 19100, "first TCP port; each run uses the next one")
		out       = flag.String("out", "", "also write the markdown report to this file")
		timeout   = flag.Duration("timeout", time.Hour, "stop starting new runs after this long")
		keep      = flag.Bool("keep", false, "keep the temporary build directory (binaries, server logs)")
		quiet     = flag.Float64("quiet", 20, "before each run wait until the pinned CPUs are less busy than this (% of one CPU); 0 disables")
		quietWait = flag.Duration("quietwait", 30*time.Second, "longest wait for -quiet before running anyway")
		retries   = flag.Int("retries", 2, "repeat a run whose other-CPU share exceeded -quiet up to this many times")
		profDir   = flag.String("cpuprofile", "", "directory: servers that take -cpuprofile write one CPU profile per run into it")
	)
	flag.Parse()
	srvList, err := pick(*servers, allServers)
	if err != nil {
		fatal(err)
	}
	var names []string
	for _, w := range allWorkloads {
		names = append(names, w.name)
	}
	wlNames, err := pick(*workloads, append(names, protoNames()...))
	if err != nil {
		fatal(err)
	}
	wlNames, protoWls := splitProto(wlNames) // protocol workloads: see proto.go
	if *rounds < 1 || *duration <= 0 {
		fatal(errors.New("need -rounds >= 1 and -duration > 0"))
	}
	cl, ok := clients[*client]
	if !ok {
		fatal(fmt.Errorf("unknown -client %q (known: c, go)", *client))
	}
	modDir, err := moduleDir()
	if err != nil {
		fatal(err)
	}
	binDir, err := os.MkdirTemp("", "millbench-")
	if err != nil {
		fatal(err)
	}
	cleanup := func() {
		killLive()
		if !*keep {
			os.RemoveAll(binDir)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "runner: interrupted, stopping children")
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()

	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			clkTck = v
		}
	}
	mach := machineInfo()
	fmt.Print(mach)
	fmt.Println("load generator:", cl.desc)

	e := &env{binDir: binDir, genBin: cl.bin, loops: *loops, serverCPU: *serverCPU, clientCPU: *clientCPU,
		duration: *duration, warmup: *warmup, settle: *settle}
	if *profDir != "" {
		if err := os.MkdirAll(*profDir, 0o755); err != nil {
			fatal(err)
		}
		if e.profDir, err = filepath.Abs(*profDir); err != nil {
			fatal(err)
		}
	}
	if (e.serverCPU != "" || e.clientCPU != "") && !canPin() {
		fmt.Fprintln(os.Stderr, "runner: taskset unavailable or fewer than 2 CPUs; running unpinned")
		e.serverCPU, e.clientCPU = "", ""
	}
	for _, l := range []string{e.serverCPU, e.clientCPU} {
		if l == "" {
			continue
		}
		cpus, err := parseCPUList(l)
		if err != nil {
			fatal(err)
		}
		e.cpus = append(e.cpus, cpus...)
	}
	notes := []string{fmt.Sprintf("servers pinned to CPU %q, loadgen to CPU %q (empty = unpinned); servers run with -loops %d; %d round(s), warmup %v, duration %v",
		e.serverCPU, e.clientCPU, e.loops, *rounds, *warmup, *duration)}

	var tcpWls, udpWls, tlsWls, wsWls int
	for _, wn := range wlNames {
		switch w := findWorkload(wn); {
		case w.udp:
			udpWls++
		case w.tls:
			tlsWls++
		case w.ws:
			wsWls++
		default:
			tcpWls++
		}
	}
	if len(wlNames) == 0 {
		srvList = nil // protocol workloads only: no echo server, no loadgen
	}
	if tcpWls > 0 || wsWls > 0 { // the WebSocket echo and idle workloads use -client too
		if err := buildClient(modDir, binDir, *client); err != nil {
			fatal(fmt.Errorf("building load generator %s: %w", cl.bin, err))
		}
	}
	if udpWls > 0 || tlsWls > 0 || wsWls > 0 {
		if (tcpWls == 0 && wsWls == 0) || clients[*client].bin != udpGenBin {
			if err := build(modDir, binDir, udpGenBin, "./cmd/loadgen"); err != nil {
				fatal(fmt.Errorf("building load generator %s: %w", udpGenBin, err))
			}
		}
		if udpWls > 0 {
			notes = append(notes, "UDP workloads: load generator loadgen -udp (cmd/loadgen: Go, one locked thread, epoll, "+
				"connected UDP sockets, recvmmsg/sendmmsg), servers started with -udp; contenders "+strings.Join(udpServers, ", ")+
				" (cepoll has no UDP mode)")
		}
	}
	if tlsWls > 0 {
		notes = append(notes, "TLS workloads: load generator loadgen -tls (cmd/loadgen: Go, crypto/tls client, one goroutine per connection; "+
			"TLS 1.3, X25519, no session cache, ECDSA P-256 server certificates made at start), contenders "+
			"mill-tls (mill.WithTLS), stdlib-tls (net + crypto/tls, goroutine per connection), "+
			"nbio-tls (nbio + llib's crypto/tls fork, run with -aes so that it negotiates AES-128-GCM like the others)")
	}
	if wsWls > 0 {
		notes = append(notes, "WebSocket workloads: load generator "+clients[*client].bin+" -ws for echo and idle (cmd/cload: C, one thread, epoll; "+
			"cmd/loadgen with -client go: one goroutine per connection; both do a raw handshake and send binary frames masked with a fixed key), "+
			"loadgen -ws -broadcast for broadcast (one locked thread, epoll, raw reads), client sockets bound to "+wsSrcIPs+
			"; contenders wsmill (mill/websocket), wsmill-batch (the same with mill.WithWriteBatching), wsgorilla (gorilla/websocket on net/http), wsnbio (nbio nbhttp/websocket), wsgws (lxzan/gws); no compression")
	}
	var built []string
	binErr := map[string]error{}
	for _, s := range srvList {
		if !slices.ContainsFunc(wlNames, func(wn string) bool { return serves(findWorkload(wn), s) }) {
			continue // e.g. cepoll when only UDP workloads run
		}
		spec := serverSpecs[s]
		err, done := binErr[spec.bin]
		if !done {
			if spec.c {
				err = buildC(modDir, binDir, spec.bin, spec.src)
			} else if spec.tags != "" {
				err = runCmd(modDir, []string{"go", "build", "-tags", spec.tags, "-o", filepath.Join(binDir, spec.bin), spec.src})
			} else {
				err = build(modDir, binDir, spec.bin, spec.src)
			}
			binErr[spec.bin] = err
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "runner: server %s does not build, skipping it:\n%v\n", s, err)
			notes = append(notes, fmt.Sprintf("server %s skipped: build failed (%s)", s, firstLine(err.Error())))
			continue
		}
		built = append(built, s)
	}
	plan := prepareProto(e, modDir, protoWls)
	if len(built) == 0 && len(wlNames) > 0 {
		fatal(errors.New("no server could be built"))
	}

	deadline := time.Now().Add(*timeout)
	var results []runResult
	nextPort := *port
runs:
	for _, wn := range wlNames {
		w := allWorkloads[slices.IndexFunc(allWorkloads, func(x workload) bool { return x.name == wn })]
		for r := 1; r <= *rounds; r++ {
			for _, s := range built {
				if !serves(w, s) {
					continue
				}
				if time.Now().After(deadline) {
					notes = append(notes, fmt.Sprintf("stopped early: -timeout %v reached", *timeout))
					break runs
				}
				var res runResult
				for attempt := 0; ; attempt++ {
					if *quiet > 0 {
						if load, ok := waitQuiet(e.cpus, *quiet, *quietWait); !ok {
							fmt.Printf("   (machine busy: %.0f%% CPU used by other processes before the run)\n", load)
						}
					}
					fmt.Printf("== %s round %d/%d: %s\n", w.name, r, *rounds, s)
					res = runOne(e, w, s, r, nextPort)
					nextPort++
					if !res.ok() {
						fmt.Println("    FAILED:", res.err)
						break
					}
					fmt.Println("   ", summary(w, res))
					other := pct(res.otherCPU, res.window)
					if *quiet <= 0 || w.idle || other <= *quiet {
						break
					}
					if attempt >= *retries {
						notes = append(notes, fmt.Sprintf("%s/%s round %d kept although disturbed (%.0f%% other CPU after %d repeats)",
							w.name, s, r, other, attempt))
						break
					}
					fmt.Printf("    disturbed (%.0f%% other CPU), repeating\n", other)
				}
				results = append(results, res)
			}
		}
	}

	presults := plan.run(e, protoOpts{rounds: *rounds, quiet: *quiet, quietWait: *quietWait, retries: *retries, deadline: deadline}, &nextPort)
	notes = append(notes, plan.notes...)
	genDesc := cl.desc
	if tcpWls == 0 && udpWls == 0 && tlsWls == 0 && wsWls > 0 {
		genDesc = cl.desc + " -ws (a minimal WebSocket client); ws-broadcast: loadgen -ws -broadcast"
	} else if tcpWls == 0 && udpWls == 0 && tlsWls > 0 {
		genDesc = "loadgen -tls (cmd/loadgen: Go, crypto/tls client)"
	} else if tcpWls == 0 && udpWls > 0 {
		genDesc = "loadgen -udp (cmd/loadgen: Go, one locked thread, epoll, recvmmsg/sendmmsg)"
	}
	report := renderAll(mach, genDesc, notes, wlNames, built, results, plan, presults, cmds.cmds)
	fmt.Print("\n", report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fatal(err)
		}
		fmt.Println("report written to", *out)
	}
	if *keep {
		fmt.Println("binaries and server logs kept in", binDir)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "runner:", err)
	killLive()
	os.Exit(1)
}

func pick(list string, known []string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("unknown name %q (known: %s)", f, strings.Join(known, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty selection")
	}
	return out, nil
}

// moduleDir finds the benchmarks module root from the working directory up.
func moduleDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/mill-io/mill/benchmarks\n") {
			return dir, nil
		}
		if sub := filepath.Join(dir, "benchmarks"); dir != sub {
			if b, err := os.ReadFile(filepath.Join(sub, "go.mod")); err == nil &&
				strings.Contains(string(b), "module github.com/mill-io/mill/benchmarks\n") {
				return sub, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the benchmarks module (cd benchmarks)")
		}
		dir = parent
	}
}

func runCmd(dir string, args []string) error {
	cmds.add(dir, args)
	c := exec.Command(args[0], args[1:]...)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func build(modDir, binDir, name, pkg string) error {
	return runCmd(modDir, []string{"go", "build", "-o", filepath.Join(binDir, name), pkg})
}

// buildC compiles a single-file C program (src relative to modDir) with gcc.
func buildC(modDir, binDir, name, src string) error {
	return runCmd(modDir, []string{"gcc", "-O2", "-o", filepath.Join(binDir, name), src})
}

// buildClient builds the load generator selected by -client into binDir
// under the name clients[client].bin.
func buildClient(modDir, binDir, client string) error {
	switch client {
	case "c":
		return buildC(modDir, binDir, clients[client].bin, "cmd/cload/cload.c")
	case "go":
		return build(modDir, binDir, clients[client].bin, "./cmd/loadgen")
	}
	return fmt.Errorf("unknown client %q", client)
}

func canPin() bool {
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	return runtime.NumCPU() >= 2
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func output(name string, args ...string) string {
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func machineInfo() string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "machine: nproc=%s, cpu=%q, kernel=%s, %s, gcc=%s, CLK_TCK=%g\n",
		output("nproc"), model, output("uname", "-sr"), output("go", "version"),
		firstLine(output("gcc", "-dumpfullversion")), clkTck)
	return sb.String()
}
