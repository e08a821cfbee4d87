//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) {
	if os.Getenv(idleClientEnv) != "" {
		os.Exit(runIdleClients())
	}
	leaktest.VerifyTestMain(m)
}

// antsGoroutines are the goroutines leak checks ignore: those of ants'
// default pool, which mill never uses (see internal/leaktest).
var antsGoroutines = leaktest.Options()

// serve starts s on a fresh port and shuts it down when the test ends,
// checking that Serve returned ErrServerClosed.
func serve(t *testing.T, h Handler, addr string, opts ...Option) *Server {
	t.Helper()
	if addr == "" {
		addr = "tcp://127.0.0.1:0"
	}
	opts = append([]Option{WithLogger(zap.NewNop())}, opts...)
	s, err := NewServer(h, addr, opts...)
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
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(s.Addr().Network(), s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFull reads len(want) bytes with a deadline and compares them.
func expectRead(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("read %q, want %q", trunc(got), trunc(want))
	}
}

func trunc(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitBound is how long the wait helpers (recv, waitFor) give something
// that should happen: generous, so that a loaded machine makes a test slow
// rather than red.
const waitBound = 10 * time.Second

// recv receives a value from ch, failing the test if none comes within
// waitBound; what names the awaited event ("timed out waiting for what").
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, ch, waitBound, what)
}

// recvWithin is recv with a bound of d, for a test whose bound matters.
func recvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

// echoHandler echoes and counts opens and closes.
type echoHandler struct {
	BuiltinHandler
	opens, closes atomic.Int64
	closeErrs     chan error // if not nil, receives every OnClose error
}

func (h *echoHandler) OnOpen(Conn) ([]byte, Action) {
	h.opens.Add(1)
	return nil, None
}

func (h *echoHandler) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return None
}

func (h *echoHandler) OnClose(_ Conn, err error) Action {
	h.closes.Add(1)
	if h.closeErrs != nil {
		h.closeErrs <- err
	}
	return None
}

// funcHandler is the configurable test handler, for a test whose handler
// is a callback or two (tests that need state of their own embed it): a
// hook that is set is that callback, one that is not does what
// BuiltinHandler does. When not nil, conns receives every opened Conn
// (after open; a send that blocks holds the loop, so size it) and
// closeErrs every OnClose error (after close; when it is full the error is
// dropped, never blocking the loop).
type funcHandler struct {
	BuiltinHandler
	open      func(Conn) ([]byte, Action)
	traffic   func(Conn) Action
	close     func(Conn, error) Action
	conns     chan Conn
	closeErrs chan error
}

func (h *funcHandler) OnOpen(c Conn) (out []byte, a Action) {
	if h.open != nil {
		out, a = h.open(c)
	}
	if h.conns != nil {
		h.conns <- c
	}
	return out, a
}

func (h *funcHandler) OnTraffic(c Conn) Action {
	if h.traffic == nil {
		return None
	}
	return h.traffic(c)
}

func (h *funcHandler) OnClose(c Conn, err error) (a Action) {
	if h.close != nil {
		a = h.close(c, err)
	}
	if h.closeErrs != nil {
		select {
		case h.closeErrs <- err:
		default:
		}
	}
	return a
}

// answer is a handler that answers any input (discarding it) with reply,
// and sends each OnClose error to its closeErrs.
func answer(reply []byte) *funcHandler {
	return &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		c.Discard(-1)
		c.Write(reply)
		return None
	}}
}

// inspect runs fn on sc's loop and waits for it: the way for a test to
// look at a connection's loop-only state. It reports false if the loop
// has stopped.
func inspect(sc Conn, fn func(c *conn)) bool {
	c := sc.(*conn)
	done := make(chan struct{})
	if c.loop.loop.Submit(func() { fn(c); close(done) }) != nil {
		return false
	}
	<-done
	return true
}

// serverFDs is per-server descriptor accounting: add notes what each
// descriptor it is given refers to (its socket), and open lists those
// still referring to it. Unlike openFDs, tests running at the same time
// (or a test before this one still closing its own) do not disturb it.
// add is for a loop callback, open for the test's goroutine.
type serverFDs struct {
	mu     sync.Mutex
	target map[int]string
}

// fdTarget is what fd refers to ("socket:[1234]"), or "" if it is closed.
func fdTarget(fd int) string {
	l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return l
}

// newServerFDs skips the test where descriptors cannot be looked at.
func newServerFDs(t *testing.T) *serverFDs {
	t.Helper()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	return &serverFDs{target: map[int]string{}}
}

func (s *serverFDs) add(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target[fd] = fdTarget(fd)
}

func (s *serverFDs) open() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []int
	for fd, target := range s.target {
		if fdTarget(fd) == target {
			open = append(open, fd)
		}
	}
	return open
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// eventually polls cond until it holds or d passes, and reports which.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
