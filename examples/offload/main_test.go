package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func start(t testing.TB, h *handler, loops int) string {
	t.Helper()
	opts := options(loops, 10*time.Second, 2*time.Minute, 10000)
	opts = append(opts, mill.WithLogger(zap.NewNop()), mill.WithLingerTimeout(200*time.Millisecond))
	s, err := mill.NewServer(h, "tcp://127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s.Addr().String()
}

func TestPoolKeepsOrderAndTheLoopFree(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	h := newHandler(Pool, 0)
	h.work = func() {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
	}
	addr := start(t, h, 1)
	worker, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	const n = 100
	var req []byte
	for i := 0; i < n; i++ {
		req = fmt.Appendf(req, "work %d\n", i)
	}
	worker.Write(req)
	<-started
	// Work is blocked in the pool; the one loop still answers pings.
	pinger, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pinger.Close()
	pinger.SetDeadline(time.Now().Add(10 * time.Second))
	pr := bufio.NewReader(pinger)
	for i := 0; i < 10; i++ {
		pinger.Write([]byte("ping\n"))
		if line, err := pr.ReadString('\n'); line != "pong\n" {
			t.Fatalf("ping while work is blocked: %q %v", line, err)
		}
	}
	close(gate)
	worker.SetDeadline(time.Now().Add(10 * time.Second))
	wr := bufio.NewReader(worker)
	for i := 0; i < n; i++ {
		if line, err := wr.ReadString('\n'); line != "done "+strconv.Itoa(i)+"\n" {
			t.Fatalf("reply %d: %q %v", i, line, err)
		}
	}
}

func TestBadRequest(t *testing.T) {
	addr := start(t, newHandler(Pool, 0), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello\n"))
	if line, _ := bufio.NewReader(c).ReadString('\n'); line != "error: want ping or work ID\n" {
		t.Fatalf("got %q", line)
	}
}

// TestAnswerAfterFIN: a client that sends its requests and half-closes
// (printf 'work 7\n' | nc -N) still gets the answers the pool computes
// after the FIN, then the close. (Not so in Goroutine mode: mill does not
// know of the goroutine, and closes once nothing it knows of is pending.)
func TestAnswerAfterFIN(t *testing.T) {
	addr := start(t, newHandler(Pool, 20*time.Millisecond), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping\nwork 7\nwork 8\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if string(got) != "pong\ndone 7\ndone 8\n" || err != nil {
		t.Fatalf("got %q, %v; want the answers, then EOF", got, err)
	}
}

// TestLineTooLong: a line over the codec's limit gets an error line,
// which the client reads in full although it keeps sending, then the
// connection closes.
func TestLineTooLong(t *testing.T) {
	addr := start(t, newHandler(Pool, 0), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { // a client that never stops sending
		defer close(sent)
		junk := bytes.Repeat([]byte("x"), 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); c.Close(); <-sent }()
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); line != "error: line too long\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	// Then the server closes: EOF, or a reset once it stops lingering.
	if rest, err := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("after the error: %q, %v", rest, err)
	}
}

func TestDemo(t *testing.T) {
	addr := start(t, newHandler(Pool, time.Millisecond), 2)
	r, err := runDemo(addr, 4, 10, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.work != 40 || !r.inOrder || len(r.pings) == 0 {
		t.Fatalf("demo: %v", r)
	}
}

// BenchmarkRoundTrip measures a request's trip from the loop to the
// worker pool and back through AsyncWriteFrame (no work in between),
// against a new goroutine per request. "serial" waits for each reply
// (latency); "pipelined" keeps 64 requests in flight (throughput).
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name string
		mode Mode
	}{{"pool", Pool}, {"goroutine", Goroutine}} {
		for _, depth := range []int{1, 64} {
			name := mode.name + "/serial"
			if depth > 1 {
				name = mode.name + "/pipelined"
			}
			b.Run(name, func(b *testing.B) {
				addr := start(b, newHandler(mode.mode, 0), 1)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				r := bufio.NewReader(c)
				req := []byte("work 1\n")
				b.ReportAllocs()
				b.ResetTimer()
				sent, got := 0, 0
				for got < b.N {
					for sent < b.N && sent-got < depth {
						c.Write(req)
						sent++
					}
					if _, err := r.ReadSlice('\n'); err != nil {
						b.Fatal(err)
					}
					got++
				}
			})
		}
	}
}
