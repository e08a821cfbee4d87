//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test that matters: real processes, a real SIGHUP, a client pool
// under load, and not one failed connection or lost byte.

const (
	shortRate  = 2000 // short connections opened per second
	shortConc  = 64   // at most this many at once
	longConns  = 50   // long-lived connections streaming lines
	longPeriod = 2 * time.Millisecond
	lineLen    = 100
)

func TestUpgradeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes under load")
	}
	bin := buildServer(t)
	// Become the subreaper: the upgraded process is orphaned when the old
	// one exits and is reparented to us, so that we can reap it.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); errno != 0 {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", errno)
	}
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"main-reactor", nil},
		{"reuseport", []string{"-reuseport"}},
	} {
		t.Run(mode.name, func(t *testing.T) { upgradeUnderLoad(t, bin, mode.args) })
	}
}

func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "upgrade")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// readPid is the pid in path, or 0.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// poll calls cond every few milliseconds until it holds or d passes.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// load is the client pool and what it saw.
type load struct {
	addr string
	stop chan struct{}
	wg   sync.WaitGroup

	shortOK     atomic.Int64 // short connections that got their echo
	longLines   atomic.Int64 // lines echoed on long-lived connections
	longBytes   atomic.Int64 // bytes acknowledged (echoed, verified) on them
	longConns   atomic.Int64 // long-lived connections made (with reconnects)
	serverClose atomic.Int64 // clean closes by the server at a line boundary
	unacked     atomic.Int64 // lines sent after the last echo when the server closed (resent)

	mu        sync.Mutex
	errs      []string // every failure, with when
	closesAt  []time.Time
	shortErrs int
	longErrs  int
}

func (l *load) fail(short bool, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if short {
		l.shortErrs++
	} else {
		l.longErrs++
	}
	if len(l.errs) < 50 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000000")+" "+fmt.Sprintf(format, args...))
	}
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func startLoad(addr string) *load {
	l := &load{addr: addr, stop: make(chan struct{})}
	tokens := make(chan struct{}, shortConc)
	l.wg.Add(1)
	go func() { // shortRate tokens a second
		defer l.wg.Done()
		defer close(tokens)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-l.stop:
				return
			case now := <-tick.C:
				for due := int(now.Sub(start).Seconds() * shortRate); sent < due; sent++ {
					select {
					case tokens <- struct{}{}:
					default: // the workers are behind: skip rather than burst
					}
				}
			}
		}
	}()
	for i := 0; i < shortConc; i++ {
		l.wg.Add(1)
		go func(i int) {
			defer l.wg.Done()
			n := 0
			for range tokens {
				l.short(fmt.Sprintf("short %d %d\n", i, n))
				n++
			}
		}(i)
	}
	for i := 0; i < longConns; i++ {
		l.wg.Add(1)
		go func(i int) { defer l.wg.Done(); l.long(i) }(i)
	}
	return l
}

// short connects, writes a line, reads it back and closes.
func (l *load) short(line string) {
	c, err := net.DialTimeout("tcp", l.addr, 3*time.Second)
	if err != nil {
		l.fail(true, "short dial: %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line); err != nil {
		l.fail(true, "short write: %v", err)
		return
	}
	got := make([]byte, len(line))
	if n, err := io.ReadFull(c, got); err != nil {
		l.fail(true, "short read (%d of %d bytes): %v", n, len(line), err)
		return
	}
	if string(got) != line {
		l.fail(true, "short echo %q for %q", got, line)
		return
	}
	l.shortOK.Add(1)
}

// long streams sequenced lines, one in flight at a time, and checks each
// echo. A clean end of stream before an echo has begun is the old
// process closing at a line boundary: the line was not acknowledged, so
// it goes again on a new connection. Anything else is a failure.
func (l *load) long(id int) {
	seq := 0
	tick := time.NewTicker(longPeriod)
	defer tick.Stop()
	for !l.stopped() {
		c, err := net.DialTimeout("tcp", l.addr, 3*time.Second)
		if err != nil {
			l.fail(false, "long %d dial: %v", id, err)
			return
		}
		l.longConns.Add(1)
		for {
			select {
			case <-l.stop:
				c.Close()
				return
			case <-tick.C:
			}
			line := fmt.Sprintf("long %02d %09d ", id, seq)
			line += strings.Repeat("x", lineLen-1-len(line)) + "\n"
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, line); err != nil {
				l.fail(false, "long %d write line %d: %v", id, seq, err)
				c.Close()
				return
			}
			got := make([]byte, len(line))
			n, err := io.ReadFull(c, got)
			if err == io.EOF && n == 0 {
				l.serverClose.Add(1)
				l.unacked.Add(1)
				l.mu.Lock()
				l.closesAt = append(l.closesAt, time.Now())
				l.mu.Unlock()
				c.Close()
				break // reconnect; seq goes again
			}
			if err != nil {
				l.fail(false, "long %d read line %d (%d of %d bytes): %v", id, seq, n, len(line), err)
				c.Close()
				return
			}
			if string(got) != line {
				l.fail(false, "long %d line %d: echo %q", id, seq, got)
				c.Close()
				return
			}
			l.longLines.Add(1)
			l.longBytes.Add(int64(n))
			seq++
		}
	}
}

func upgradeUnderLoad(t *testing.T, bin string, args []string) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	addr := freeAddr(t)
	// A file, not a pipe: the new process inherits it, and cmd.Wait
	// would wait for a pipe's writers, the new process among them.
	out, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// UPGRADE_TEST_GRACE=0s leaves the old process's connections to
	// mill's drain alone, which resets some: see README.md.
	grace := "3s"
	if g := os.Getenv("UPGRADE_TEST_GRACE"); g != "" {
		grace = g
	}
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-loops", "2", "-pidfile", pidFile, "-grace", grace}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	oldPid := cmd.Process.Pid
	oldExit := make(chan error, 1)
	go func() { oldExit <- cmd.Wait() }()
	newPid := 0
	defer func() {
		cmd.Process.Kill() // if still there
		if newPid != 0 {
			stopProcess(t, newPid)
		}
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("server output:\n%s", b)
		}
	}()

	if !poll(10*time.Second, func() bool { return readPid(pidFile) == oldPid }) {
		t.Fatalf("the server did not write its pid (%d) to %s", oldPid, pidFile)
	}

	l := startLoad(addr)
	stopLoad := sync.OnceFunc(func() { close(l.stop); l.wg.Wait() })
	defer stopLoad()

	// A second of load first.
	if !poll(10*time.Second, func() bool { return l.shortOK.Load() >= shortRate && l.longLines.Load() >= 10*longConns }) {
		t.Fatalf("load did not get going: %d short, %d long lines", l.shortOK.Load(), l.longLines.Load())
	}
	before := l.shortOK.Load()
	hup := time.Now()
	if err := syscall.Kill(oldPid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !poll(15*time.Second, func() bool { p := readPid(pidFile); return p != 0 && p != oldPid }) {
		t.Fatalf("no upgrade: pid file still says %d", readPid(pidFile))
	}
	newPid = readPid(pidFile)
	ready := time.Now()
	var oldExited time.Time
	select {
	case err := <-oldExit:
		oldExited = time.Now()
		if err != nil {
			t.Errorf("old process %d: %v", oldPid, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("old process %d did not exit", oldPid)
	}
	during := l.shortOK.Load() - before
	// A couple more seconds of load on the new process alone.
	after := l.shortOK.Load()
	if !poll(10*time.Second, func() bool { return l.shortOK.Load()-after >= 2*shortRate }) {
		t.Errorf("load stalled after the upgrade: %d short connections", l.shortOK.Load()-after)
	}
	stopLoad()

	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("pid %d -> %d: ready %v after SIGHUP, old exited %v after that",
		oldPid, newPid, ready.Sub(hup).Round(time.Millisecond), oldExited.Sub(ready).Round(time.Millisecond))
	t.Logf("short connections: %d echoed (%d during the upgrade), %d failed", l.shortOK.Load(), during, l.shortErrs)
	t.Logf("long-lived: %d connections made (%d initial), %d lines / %d bytes acknowledged in order, %d failed; %d clean closes by the old process (%d unacknowledged lines resent)",
		l.longConns.Load(), longConns, l.longLines.Load(), l.longBytes.Load(), l.longErrs, l.serverClose.Load(), l.unacked.Load())
	for _, e := range l.errs {
		t.Errorf("connection error: %s", e)
	}
	if l.shortErrs+l.longErrs > 0 {
		t.Errorf("%d short and %d long-lived connection errors; want none", l.shortErrs, l.longErrs)
	}
	for _, at := range l.closesAt {
		// Only the old process closes a connection, and only after it
		// was told to leave (after the new one was ready); its close
		// may be read a moment after it exits.
		if at.Before(hup) || at.After(oldExited.Add(time.Second)) {
			t.Errorf("a long-lived connection was closed at %v, outside the upgrade (SIGHUP %v, old process gone %v)",
				at.Format("15:04:05.000"), hup.Format("15:04:05.000"), oldExited.Format("15:04:05.000"))
		}
	}
	if l.longLines.Load() < 10*longConns || l.shortOK.Load() < 3*shortRate {
		t.Errorf("too little load to mean anything")
	}
}

// stopProcess ends the upgraded process (our child since we became its
// subreaper) and reaps it.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %d: %v", pid, err)
		return
	}
	done := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == nil && (!ws.Exited() || ws.ExitStatus() != 0) {
			err = fmt.Errorf("exit status %v", ws)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, syscall.ECHILD) {
			t.Errorf("upgraded process %d: %v", pid, err)
		}
	case <-time.After(20 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("upgraded process %d did not exit on SIGTERM", pid)
	}
}
