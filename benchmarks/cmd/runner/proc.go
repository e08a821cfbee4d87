package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is the kernel's USER_HZ used by /proc/<pid>/stat; set in main.
var clkTck = 100.0

// commandLog records every external command in the order it ran.
type commandLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *commandLog) add(dir string, args []string) {
	s := shellJoin(args)
	if dir != "" {
		s = "(cd " + dir + " && " + s + ")"
	}
	fmt.Println("$", s)
	l.mu.Lock()
	l.cmds = append(l.cmds, s)
	l.mu.Unlock()
}

var cmds commandLog

// live tracks started processes so an interrupted runner can stop them.
var live = struct {
	sync.Mutex
	m map[*proc]bool
}{m: map[*proc]bool{}}

// proc is a started child process; done is closed once it has exited.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
	err  error // valid after done is closed
}

// start runs args (optionally pinned to cpu via taskset) with stdout/stderr
// wired as given. The child is killed if the runner dies (Pdeathsig).
// taskset execs the target, so the pid is the target's.
func start(cpu string, args []string, stdout, stderr io.Writer) (*proc, error) {
	if cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmds.add("", args)
	c := exec.Command(args[0], args[1:]...)
	c.Stdout, c.Stderr = stdout, stderr
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: c, pid: c.Process.Pid, done: make(chan struct{})}
	live.Lock()
	live.m[p] = true
	live.Unlock()
	go func() {
		p.err = c.Wait()
		live.Lock()
		delete(live.m, p)
		live.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitTimeout waits for p to exit; after d it is killed and timedOut is true.
func (p *proc) waitTimeout(d time.Duration) (err error, timedOut bool) {
	select {
	case <-p.done:
		return p.err, false
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		return p.err, true
	}
}

// stop sends SIGTERM, then SIGKILL after grace. It reports whether the process
// had already exited before being asked to stop. Safe to call repeatedly.
func (p *proc) stop(grace time.Duration) (alreadyDead bool) {
	if p.exited() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitTimeout(grace)
	return false
}

func killLive() {
	live.Lock()
	defer live.Unlock()
	for p := range live.m {
		_ = p.cmd.Process.Kill()
	}
}

// waitAccepting dials addr until a connection succeeds, the process exits or
// the timeout passes.
func waitAccepting(addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("server exited before accepting: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not accepting on %s after %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHandshaking is waitAccepting for a TLS server: a connection counts
// once its TLS handshake completed (then it is closed with close_notify),
// so the server is known to speak TLS and logs no failed handshake.
func waitHandshaking(addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			tc := tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
			err = tc.Handshake()
			tc.Close()
			if err == nil {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("server exited before completing a TLS handshake: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server on %s completed no TLS handshake in %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEchoingUDP sends a probe datagram to addr until it is echoed, the
// process exits or the timeout passes.
func waitEchoingUDP(addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	probe := []byte("mill-runner-probe")
	buf := make([]byte, 64)
	for {
		_, err := c.Write(probe)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			var n int
			if n, err = c.Read(buf); err == nil && string(buf[:n]) == string(probe) {
				return nil
			} else if err == nil {
				return fmt.Errorf("server on %s echoed %q to a %q probe", addr, buf[:n], probe)
			}
		}
		if p.exited() {
			return fmt.Errorf("server exited before echoing: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not echoing UDP on %s after %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPortFree waits until addr can be bound again on network ("tcp":
// nothing listening; "udp": no socket bound).
func waitPortFree(network, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ln io.Closer
		var err error
		if network == "udp" {
			ln, err = net.ListenPacket("udp", addr)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		if err == nil {
			ln.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s still busy after %v: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuSeconds returns utime+stime of pid (all threads) in seconds.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state); utime is field 14
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad utime/stime in /proc stat")
	}
	return float64(ut+st) / clkTck, nil
}

// rssBytes returns VmRSS of pid.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// markerWatcher scans loadgen's stderr, calling onPhase for each
// "phase=<name>" line and keeping the last lines for error reports.
type markerWatcher struct {
	mu      sync.Mutex
	tail    []string
	onPhase func(name string)
	done    chan struct{}
}

func watchMarkers(r io.Reader, onPhase func(string)) *markerWatcher {
	w := &markerWatcher{onPhase: onPhase, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "phase="); ok {
				name, _, _ := strings.Cut(rest, " ")
				w.onPhase(name)
			}
			w.mu.Lock()
			w.tail = append(w.tail, line)
			if len(w.tail) > 20 {
				w.tail = w.tail[1:]
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *markerWatcher) lastLines() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// udpRcvbufErrors reads the kernel's Udp RcvbufErrors counter (all
// sockets of the network namespace): datagrams dropped because a receive
// queue was full.
func udpRcvbufErrors() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return parseSnmp(string(b), "Udp", "RcvbufErrors")
}

// parseSnmp finds field in the /proc/net/snmp section proto: a header
// line of names followed by a line of values.
func parseSnmp(s, proto, field string) (uint64, error) {
	lines := strings.Split(s, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != proto+":" || len(values) != len(names) || values[0] != proto+":" {
			continue
		}
		if j := slices.Index(names, field); j > 0 {
			return strconv.ParseUint(values[j], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s %s in /proc/net/snmp", proto, field)
}

// parseCPUList parses a taskset-style list such as "0", "0-3" or "0,2".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, f := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(f), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// busySeconds sums user+nice+system+irq+softirq time from /proc/stat over the
// given CPUs (all CPUs if cpus is empty): everything that ran there.
func busySeconds(cpus []int) (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, c := range cpus {
		want["cpu"+strconv.Itoa(c)] = true
	}
	if len(want) == 0 {
		want["cpu"] = true
	}
	var ticks uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !want[f[0]] {
			continue
		}
		for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return 0, err
			}
			ticks += v
		}
	}
	return float64(ticks) / clkTck, nil
}

// waitQuiet waits (at most maxWait) until the given CPUs are busy less than
// threshold percent of one CPU, averaged over 500 ms. It returns the last load
// seen and whether the machine was quiet.
func waitQuiet(cpus []int, threshold float64, maxWait time.Duration) (float64, bool) {
	deadline := time.Now().Add(maxWait)
	for {
		b0, err := busySeconds(cpus)
		if err != nil {
			return 0, true
		}
		t0 := time.Now()
		time.Sleep(500 * time.Millisecond)
		b1, _ := busySeconds(cpus)
		load := 100 * (b1 - b0) / time.Since(t0).Seconds()
		if load < threshold {
			return load, true
		}
		if time.Now().After(deadline) {
			return load, false
		}
	}
}
