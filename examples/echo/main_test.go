package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// start serves the echo with the command's defaults (two loops) on a free
// port until the test ends.
func start(t testing.TB) *mill.Server {
	t.Helper()
	cfg := defaults
	cfg.loops = 2
	return startConfig(t, cfg)
}

// startConfig serves the echo configured by cfg on a free port until the
// test ends.
func startConfig(t testing.TB, cfg config) *mill.Server {
	t.Helper()
	s, err := mill.NewServer(echo{}, "tcp://127.0.0.1:0", append(cfg.options(), mill.WithLogger(zap.NewNop()))...)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// streamOnce writes all of data on a new connection from one goroutine,
// without waiting for the echo, then half-closes; another goroutine reads
// the echo concurrently, after a pause of readAfter, until the server
// closes. It returns how many
// bytes came back and the offset of the first one that differs (-1 if
// none).
func streamOnce(addr string, data []byte, readAfter time.Duration, deadline time.Time) (got, diff int, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, -1, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data) // all of it, in one call: the reader is not waited for
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	time.Sleep(readAfter) // a reader that falls behind (not an ordering: any pause will do)
	diff = -1
	buf := make([]byte, 256<<10)
	for {
		n, rerr := c.Read(buf)
		if diff < 0 && n > 0 {
			end := min(got+n, len(data))
			if i := mismatch(buf[:end-got], data[got:end]); i >= 0 {
				diff = got + i
			} else if got+n > len(data) {
				diff = len(data)
			}
		}
		got += n
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			<-werr
			return got, diff, rerr
		}
	}
	return got, diff, <-werr
}

// mismatch returns the index of the first byte where a and b differ, or
// -1 if a is a prefix of b.
func mismatch(a, b []byte) int {
	if bytes.Equal(a, b[:len(a)]) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestStreamWithoutWaiting sends 100 MB through the echo ten times, each
// time from a writer that sends everything before it looks at the echo
// while a reader takes the echo concurrently: every run gets every byte
// back, in order, and the connection then closes cleanly. Before flow
// control the echo's writes could be refused past the outbound limit and
// whole chunks vanish. Every other run the reader starts 200 ms late, so
// that the echo's queue certainly passes the high watermark and mill stops
// reading the connection. Under -race or -short: three runs of 32 MB.
func TestStreamWithoutWaiting(t *testing.T) {
	size, runs := 100<<20, 10
	if raceEnabled || testing.Short() {
		size, runs = 32<<20, 3
	}
	s := start(t)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(data)
	deadline := time.Now().Add(150 * time.Second)
	for run := range runs {
		begin := time.Now()
		readAfter := time.Duration(run%2) * 200 * time.Millisecond
		got, diff, err := streamOnce(s.Addr().String(), data, readAfter, deadline)
		if err != nil || got != size || diff >= 0 {
			t.Fatalf("run %d: %d of %d bytes back, first difference at %d, %v", run, got, size, diff, err)
		}
		t.Logf("run %d: %d MB echoed intact in %v (reader %v late)", run, size>>20, time.Since(begin).Round(time.Millisecond), readAfter)
	}
	tot := s.Stats().Total
	if tot.Closed.SlowConsumer != 0 || tot.WritesRefused != 0 {
		t.Errorf("slow consumers closed %d, writes refused %d", tot.Closed.SlowConsumer, tot.WritesRefused)
	}
	if tot.FlowPauses == 0 {
		t.Errorf("flow control never paused a connection: the late readers did not test it")
	}
	t.Logf("flow-control pauses: %d", tot.FlowPauses)
}

// TestEcho is the plain round trip.
func TestEcho(t *testing.T) {
	s := start(t)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 3 {
		msg := fmt.Sprintf("hello %d\n", i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("got %q, %v", buf, err)
		}
	}
}
