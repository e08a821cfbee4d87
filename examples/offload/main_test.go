package main

import (
	"bufio"
	"context"
	"fmt"
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
	s, err := mill.NewServer(h, "tcp://127.0.0.1:0", mill.WithLoops(loops), mill.WithCodec(lines),
		mill.WithLogger(zap.NewNop()))
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
