package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

type workload struct {
	name     string
	conns    int
	size     int
	pipeline int
	idle     bool
}

var allWorkloads = []workload{
	{name: "pingpong", conns: 100, size: 64, pipeline: 1},
	{name: "pipeline", conns: 100, size: 64, pipeline: 16},
	{name: "conns1k", conns: 1000, size: 512, pipeline: 1},
	{name: "large", conns: 10, size: 64 << 10, pipeline: 1},
	{name: "idle10k", conns: 10000, size: 16, pipeline: 1, idle: true},
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
	cpus      []int // CPUs the benchmark is pinned to (empty: all)
}

// phaseSampler records CPU times of the server and loadgen at each marker.
type phaseSampler struct {
	mu                  sync.Mutex
	srvPid, genPid      int
	at                  map[string]time.Time
	cpus                []int
	srv, gen, sys       map[string]float64
	established         chan struct{}
	establishedSignaled bool
}

func newSampler(srvPid int, cpus []int) *phaseSampler {
	return &phaseSampler{srvPid: srvPid, cpus: cpus, at: map[string]time.Time{},
		srv: map[string]float64{}, gen: map[string]float64{}, sys: map[string]float64{},
		established: make(chan struct{})}
}

func (p *phaseSampler) onPhase(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at[name] = time.Now()
	p.srv[name], _ = cpuSeconds(p.srvPid)
	p.gen[name], _ = cpuSeconds(p.genPid)
	p.sys[name], _ = busySeconds(p.cpus)
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
	if err := waitPortFree(addr, 5*time.Second); err != nil {
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
	srv, err := start(e.serverCPU, []string{filepath.Join(e.binDir, server), "-addr", addr, "-loops", strconv.Itoa(e.loops)}, logf, logf)
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
		if err := waitPortFree(addr, 5*time.Second); err != nil {
			fail("%v", err)
		}
	}()
	if err := waitAccepting(addr, srv, 10*time.Second); err != nil {
		fail("%v", err)
		return res
	}

	args := []string{filepath.Join(e.binDir, e.genBin), "-json", "-addr", addr,
		"-conns", strconv.Itoa(w.conns), "-size", strconv.Itoa(w.size)}
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
