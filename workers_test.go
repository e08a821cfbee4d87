//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mill-io/mill/workerpool"
)

// offloader answers "work N" lines from the worker pool, after waiting on
// gate, and "ping" lines on the loop at once.
type offloader struct {
	BuiltinHandler
	gate    chan struct{} // closed to let work finish
	started chan int
	running atomic.Int32
	maxRun  atomic.Int32
}

func (h *offloader) OnTraffic(c Conn) Action {
	for {
		f, err := c.ReadFrame()
		if f == nil || err != nil {
			return None
		}
		line := string(f)
		if line == "ping" {
			c.WriteFrame([]byte("pong"))
			continue
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(line, "work "))
		err = c.Submit(func() {
			if r := h.running.Add(1); r > 1 {
				h.maxRun.Store(r) // two of one connection's tasks overlapped
			}
			select {
			case h.started <- n:
			default:
			}
			<-h.gate
			h.running.Add(-1)
			c.AsyncWriteFrame([]byte("done "+strconv.Itoa(n)), nil)
		})
		if err != nil {
			c.WriteFrame([]byte("busy"))
		}
	}
}

func TestSubmitKeepsOrderAndLoopFree(t *testing.T) {
	t.Parallel()
	h := &offloader{gate: make(chan struct{}), started: make(chan int, 1)}
	s := serve(t, h, "", WithLoops(1), WithCodec(lines))
	worker, pinger := dial(t, s), dial(t, s)
	const n = 200
	var req strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&req, "work %d\n", i)
	}
	worker.Write([]byte(req.String()))
	<-h.started // the first task runs, and blocks
	// The loop is not blocked: another connection on the same loop is
	// answered while the task waits.
	pinger.Write([]byte("ping\n"))
	expectRead(t, pinger, []byte("pong\n"))
	close(h.gate)
	r := bufio.NewReader(worker)
	worker.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < n; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("done %d\n", i); line != want {
			t.Fatalf("reply %d = %q, want %q", i, line, want)
		}
	}
	if h.maxRun.Load() != 0 {
		t.Fatal("two tasks of one connection ran at once")
	}
}

func TestSubmitManyConnectionsInParallel(t *testing.T) {
	t.Parallel()
	// Each connection's task waits until tasks of all connections have
	// started: only parallel execution across connections lets it finish.
	const conns = 8
	var startedAll sync.WaitGroup
	startedAll.Add(conns)
	h := &funcHandler{}
	h.traffic = func(c Conn) Action {
		c.Discard(-1)
		c.Submit(func() {
			startedAll.Done()
			startedAll.Wait()
			c.AsyncWrite([]byte("ok"), nil)
		})
		return None
	}
	s := serve(t, h, "", WithLoops(2), WithWorkerPool(workerpool.Config{Size: conns}))
	var cs []net.Conn
	for i := 0; i < conns; i++ {
		c := dial(t, s)
		c.Write([]byte("go"))
		cs = append(cs, c)
	}
	for _, c := range cs {
		expectRead(t, c, []byte("ok"))
	}
}

func TestSubmitOverloadAndPanic(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	errs := make(chan error, 16)
	h := &funcHandler{closeErrs: make(chan error, 1)} // the first close is the one under test
	h.traffic = func(c Conn) Action {
		b, _ := c.Next(-1)
		switch string(b) {
		case "panic":
			errs <- c.Submit(func() { panic("task boom") })
		default:
			errs <- c.Submit(func() { <-gate })
		}
		return None
	}
	s := serve(t, h, "", WithLoops(1), WithWorkerPool(workerpool.Config{Size: 1, Capacity: 1}))
	c := dial(t, s)
	var overloads int
	for i := 0; i < 3; i++ {
		c.Write([]byte("block")) // one Submit each: the next write waits for its result
		if err := <-errs; errors.Is(err, workerpool.ErrPoolOverload) {
			overloads++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if overloads != 1 {
		t.Fatalf("%d overloads with 1 worker, room for 1 and 3 tasks; want 1", overloads)
	}
	close(gate)
	waitFor(t, "the pool to drain", func() bool {
		wp, _ := s.eng.workers()
		st := wp.Stats()
		return st.Running == 0 && st.Waiting == 0
	})
	p := dial(t, s)
	p.Write([]byte("panic"))
	if err := <-errs; err != nil {
		t.Fatalf("Submit of the panicking task: %v", err)
	}
	if err := recv(t, h.closeErrs, "a panicking task to close its connection"); !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose err = %v, want ErrHandlerPanic", err)
	}
	waitFor(t, "panic counted", func() bool {
		wp, _ := s.eng.workers()
		return wp.Stats().Failed == 1
	})
}

func TestShutdownWaitsForTasks(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	finished := make(chan error, 1)
	h := &funcHandler{}
	h.traffic = func(c Conn) Action {
		c.Discard(-1)
		c.Submit(func() {
			<-release
			c.AsyncWrite([]byte("late"), func(_ Conn, err error) { finished <- err })
		})
		return None
	}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	c := dial(t, s)
	c.Write([]byte("x"))
	waitFor(t, "task running", func() bool {
		wp, _ := s.eng.workers()
		return wp.Stats().Running == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a blocked task = %v, want DeadlineExceeded", err)
	}
	// The deadline passed: the connection is closed (the teardown goes on
	// after Shutdown returns, so wait for it), and only then the task
	// writes.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF", err)
	}
	close(release)
	if err := <-finished; !errors.Is(err, ErrClosed) {
		t.Fatalf("a task's write after its connection closed reported %v, want ErrClosed", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if _, err := s.eng.workers(); !errors.Is(err, ErrServerClosed) {
		t.Fatal("worker pool still usable after shutdown")
	}
}
