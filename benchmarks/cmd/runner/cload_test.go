package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildCloadForTest compiles cmd/cload/cload.c through the runner's own build
// path. Without gcc the test is skipped, unless MILL_REQUIRE_TOOLS=1.
func buildCloadForTest(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") == "1" {
			t.Fatalf("gcc not found (%v) and MILL_REQUIRE_TOOLS=1: cannot build cmd/cload/cload.c", err)
		}
		t.Skipf("skipping: gcc not found (%v), so cmd/cload/cload.c cannot be built; set MILL_REQUIRE_TOOLS=1 to make this a failure", err)
	}
	modDir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	if err := buildClient(modDir, binDir, "c"); err != nil {
		t.Fatalf("building cload: %v", err)
	}
	return filepath.Join(binDir, clients["c"].bin)
}

// echoServer is an in-process echo server. mangle, if set, may alter what is
// echoed: it gets the connection's stream offset of chunk and returns the
// bytes to send back.
type echoServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	mangle func(conn, off int, chunk []byte) []byte
}

func startEcho(t *testing.T, mangle func(conn, off int, chunk []byte) []byte) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, mangle: mangle}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for id := 0; ; id++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				off := 0
				for {
					n, err := c.Read(buf)
					if n > 0 {
						out := buf[:n]
						if s.mangle != nil {
							out = s.mangle(id, off, out)
						}
						off += n
						if _, err := c.Write(out); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// cloadRun is one finished cload process.
type cloadRun struct {
	res      loadgenResult
	raw      map[string]any
	stderr   string
	exitCode int
}

// runCload runs bin with args plus -json -addr, bounded by a 60 s timeout.
func runCload(t *testing.T, bin, addr string, args ...string) cloadRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-json", "-addr", addr}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cloadRun{stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exitCode = ee.ExitCode()
	default:
		t.Fatalf("running cload: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("cload did not finish within 60 s; stderr:\n%s", r.stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), &r.res); err != nil {
		t.Fatalf("bad JSON from cload (%v):\n%s\nstderr:\n%s", err, stdout.String(), r.stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), &r.raw); err != nil {
		t.Fatal(err)
	}
	return r
}

// resultKeys are the JSON fields of cmd/loadgen's Result (first_error is
// omitted when empty) and of its Latency.
var (
	resultKeys = []string{"mode", "addr", "conns", "size", "pipeline", "duration_s", "established",
		"dial_retries", "messages", "msgs_per_sec", "mb_per_sec", "latency", "errors"}
	latencyKeys = []string{"p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"}
)

func checkSchema(t *testing.T, raw map[string]any) {
	t.Helper()
	var keys []string
	for k := range raw {
		if k != "first_error" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	want := slices.Sorted(slices.Values(resultKeys))
	if !slices.Equal(keys, want) {
		t.Errorf("JSON keys %v, want %v", keys, want)
	}
	lat, _ := raw["latency"].(map[string]any)
	var lk []string
	for k := range lat {
		lk = append(lk, k)
	}
	slices.Sort(lk)
	if !slices.Equal(lk, slices.Sorted(slices.Values(latencyKeys))) {
		t.Errorf("latency keys %v, want %v", lk, latencyKeys)
	}
}

// TestCload builds the C load generator and checks it against clean and
// misbehaving in-process echo servers.
func TestCload(t *testing.T) {
	bin := buildCloadForTest(t)

	for _, c := range []struct {
		name              string
		conns, size, pipe string
	}{
		{"64B", "8", "64", "4"},
		{"64KiB", "4", "65536", "4"},
	} {
		t.Run("echo-"+c.name, func(t *testing.T) {
			srv := startEcho(t, nil)
			r := runCload(t, bin, srv.ln.Addr().String(), "-conns", c.conns, "-size", c.size,
				"-pipeline", c.pipe, "-warmup", "200ms", "-duration", "1s", "-iotimeout", "5s")
			checkSchema(t, r.raw)
			if r.exitCode != 0 || r.res.Errors != 0 || r.res.Messages == 0 || r.res.Established != atoi(c.conns) {
				t.Fatalf("exit %d, result %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
			}
			if r.res.Latency.P50 == 0 || r.res.Latency.P99 < r.res.Latency.P50 || r.res.Latency.Max < r.res.Latency.P99 {
				t.Errorf("implausible latency %+v", r.res.Latency)
			}
			if r.raw["mode"] != "load" || r.raw["duration_s"] != 1.0 || r.raw["pipeline"] != float64(atoi(c.pipe)) {
				t.Errorf("header fields: %v", r.raw)
			}
			i0 := strings.Index(r.stderr, "loadgen: phase=measure-start ")
			i1 := strings.Index(r.stderr, "loadgen: phase=measure-end ")
			if i0 < 0 || i1 < i0 {
				t.Errorf("phase markers missing or out of order:\n%s", r.stderr)
			}
		})
	}

	t.Run("corrupt", func(t *testing.T) {
		// Flip one bit of the 5000th byte echoed on the first connection.
		srv := startEcho(t, func(conn, off int, chunk []byte) []byte {
			if at := 5000 - off; conn == 0 && at >= 0 && at < len(chunk) {
				chunk[at] ^= 0x10
			}
			return chunk
		})
		r := runCload(t, bin, srv.ln.Addr().String(), "-conns", "4", "-size", "64", "-pipeline", "4",
			"-warmup", "100ms", "-duration", "1s", "-iotimeout", "2s")
		checkSchema(t, r.raw)
		if r.exitCode == 0 || r.res.Errors == 0 || !strings.Contains(r.res.FirstError, "mismatch") {
			t.Fatalf("corruption not reported: exit %d, %+v", r.exitCode, r.res)
		}
		t.Logf("reported: %s", r.res.FirstError)
	})

	t.Run("duplicate", func(t *testing.T) {
		// Echo a chunk of connection 1 twice (a duplicated/misordered stream).
		srv := startEcho(t, func(conn, off int, chunk []byte) []byte {
			if conn == 1 && off <= 3000 && off+len(chunk) > 3000 {
				return append(slices.Clone(chunk), chunk...)
			}
			return chunk
		})
		r := runCload(t, bin, srv.ln.Addr().String(), "-conns", "4", "-size", "100", "-pipeline", "2",
			"-warmup", "100ms", "-duration", "1s", "-iotimeout", "2s")
		if r.exitCode == 0 || r.res.Errors == 0 || !strings.HasPrefix(r.res.FirstError, "verify:") {
			t.Fatalf("duplicated echo not reported: exit %d, %+v", r.exitCode, r.res)
		}
		t.Logf("reported: %s", r.res.FirstError)
	})

	t.Run("idle", func(t *testing.T) {
		srv := startEcho(t, nil)
		r := runCload(t, bin, srv.ln.Addr().String(), "-idle", "-conns", "50", "-size", "16", "-duration", "300ms")
		if r.exitCode != 0 || r.res.Errors != 0 || r.res.Established != 50 || r.raw["mode"] != "idle" {
			t.Fatalf("exit %d, %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
		}
		if !strings.Contains(r.stderr, "loadgen: phase=established ") || !strings.Contains(r.stderr, "conns=50") ||
			!strings.Contains(r.stderr, "phase=release") {
			t.Errorf("idle phase markers missing:\n%s", r.stderr)
		}
	})

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		r := runCload(t, bin, addr, "-conns", "2", "-dialretries", "2", "-duration", "1s")
		if r.exitCode == 0 || r.res.Errors == 0 || r.res.DialRetries == 0 || r.res.Established != 0 {
			t.Fatalf("refused dial not reported: exit %d, %+v", r.exitCode, r.res)
		}
	})
}

// TestCloadWarningFree compiles cload.c with -Wall -Wextra -Werror.
func TestCloadWarningFree(t *testing.T) {
	buildCloadForTest(t) // skips without gcc
	modDir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", filepath.Join(t.TempDir(), "cload"), "cmd/cload/cload.c")
	cmd.Dir = modDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc -Wall -Wextra -Werror: %v\n%s", err, out)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
