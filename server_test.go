//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/balancer"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct{ in, network, address string }{
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"tcp://127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"TCP4://:80", "tcp4", ":80"},
		{"tcp6://[::1]:0", "tcp6", "[::1]:0"},
		{"unix:///tmp/x.sock", "unix", "/tmp/x.sock"},
		{"udp://1.2.3.4:5", "udp", "1.2.3.4:5"},
		{"UDP6://[::]:53", "udp6", "[::]:53"},
	} {
		n, a, err := parseAddr(tc.in)
		if err != nil || n != tc.network || a != tc.address {
			t.Errorf("parseAddr(%q) = %q, %q, %v", tc.in, n, a, err)
		}
	}
	for _, bad := range []string{"sctp://1.2.3.4:5", "udp4://nohost", "tcp://nohost", "unix://", "http://x:1"} {
		if _, _, err := parseAddr(bad); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("parseAddr(%q) err = %v, want ErrInvalidAddress", bad, err)
		}
	}
}

func TestAddrResolvesPortZero(t *testing.T) {
	s := serve(t, &echoHandler{}, "")
	ta, ok := s.Addr().(*net.TCPAddr)
	if !ok || ta.Port == 0 || !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("Addr() = %v", s.Addr())
	}
	c := dial(t, s)
	c.Write([]byte("ping"))
	expectRead(t, c, []byte("ping"))
}

// connAddrs records each connection's addresses as the server saw them.
type addrHandler struct {
	echoHandler
	mu            sync.Mutex
	local, remote []net.Addr
}

func (h *addrHandler) OnOpen(c Conn) ([]byte, Action) {
	h.mu.Lock()
	h.local = append(h.local, c.LocalAddr())
	h.remote = append(h.remote, c.RemoteAddr())
	h.mu.Unlock()
	return []byte("hi"), None
}

func TestDualStackAndIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		ln.Close()
	}
	h := &addrHandler{}
	s := serve(t, h, "tcp://:0", WithLoops(2))
	port := s.Addr().(*net.TCPAddr).Port
	for _, network := range []string{"tcp4", "tcp6"} {
		host := "127.0.0.1"
		if network == "tcp6" {
			host = "::1"
		}
		c, err := net.Dial(network, net.JoinHostPort(host, fmt.Sprint(port)))
		if err != nil {
			t.Fatalf("dial %s: %v", network, err)
		}
		expectRead(t, c, []byte("hi"))
		if got := c.LocalAddr().String(); func() string {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.remote[len(h.remote)-1].String()
		}() != got {
			t.Errorf("server saw remote %v, client is %v", h.remote, got)
		}
		c.Close()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.local {
		if a.(*net.TCPAddr).Port != port || a.(*net.TCPAddr).IP.IsUnspecified() {
			t.Errorf("LocalAddr() = %v, want a concrete address on port %d", a, port)
		}
	}

	s6 := serve(t, &echoHandler{}, "tcp6://[::1]:0")
	c := dial(t, s6)
	c.Write([]byte("six"))
	expectRead(t, c, []byte("six"))
}

func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mill.sock")

	// A stale socket file (nobody listening) is replaced.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("stale socket file not left behind:", err)
	}
	s, err := NewServer(&echoHandler{}, "unix://"+path, WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal("stale socket not replaced:", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("over unix"))
	expectRead(t, c, []byte("over unix"))

	// A live socket is not taken over.
	if _, err := NewServer(&echoHandler{}, "unix://"+path); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second server on a live socket: err = %v, want EADDRINUSE", err)
	}
	c.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file not removed on shutdown: %v", err)
	}

	// A file that is not a socket is left alone.
	reg := filepath.Join(dir, "regular")
	os.WriteFile(reg, []byte("data"), 0o600)
	if _, err := NewServer(&echoHandler{}, "unix://"+reg); err == nil {
		t.Fatal("NewServer took over a regular file")
	}
	if b, _ := os.ReadFile(reg); string(b) != "data" {
		t.Fatal("regular file was touched")
	}
}

func TestShutdownClosesEverything(t *testing.T) {
	fds := openFDs(t)
	h := &echoHandler{closeErrs: make(chan error, 100)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(3), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	var clients []net.Conn
	for i := 0; i < 30; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		expectRead(t, c, []byte("x"))
		clients = append(clients, c)
	}
	waitFor(t, "30 connections", func() bool { return s.CountConnections() == 30 })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	for i := 0; i < 30; i++ {
		if err := <-h.closeErrs; !errors.Is(err, ErrServerClosed) {
			t.Errorf("OnClose err = %v, want ErrServerClosed", err)
		}
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("client read after shutdown: %v, want EOF", err)
		}
		c.Close()
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Error("server still accepts after Shutdown")
	}
	if h.opens.Load() != 30 || h.closes.Load() != 30 || s.CountConnections() != 0 {
		t.Errorf("opens %d closes %d count %d", h.opens.Load(), h.closes.Load(), s.CountConnections())
	}
	if n := s.eng.pool.Outstanding(); n != 0 {
		t.Errorf("%d pooled buffers outstanding after shutdown", n)
	}
	if got := openFDs(t); got != fds {
		t.Errorf("open fds: %d before, %d after", fds, got)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

type blockingShutdown struct {
	echoHandler
	release chan struct{}
	called  atomic.Int32
}

func (h *blockingShutdown) OnShutdown(*Server) {
	h.called.Add(1)
	<-h.release
}

func TestShutdownDeadline(t *testing.T) {
	h := &blockingShutdown{release: make(chan struct{})}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	dial(t, s)
	waitFor(t, "Serve running", func() bool { return s.CountConnections() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	close(h.release)
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if h.called.Load() != 1 {
		t.Fatalf("OnShutdown ran %d times", h.called.Load())
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	fds := openFDs(t)
	s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if got := openFDs(t); got != fds {
		t.Errorf("open fds: %d before, %d after", fds, got)
	}
}

// shutdownOnTraffic asks for a shutdown when it hears "bye".
type shutdownOnTraffic struct{ echoHandler }

func (h *shutdownOnTraffic) OnTraffic(c Conn) Action {
	if b, _ := c.Peek(-1); string(b) == "bye" {
		return Shutdown
	}
	return h.echoHandler.OnTraffic(c)
}

func TestShutdownAction(t *testing.T) {
	s, err := NewServer(&shutdownOnTraffic{}, "tcp://127.0.0.1:0", WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	c := dial(t, s)
	c.Write([]byte("bye"))
	if err := recv(t, done, "the Shutdown action to stop the server"); !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
}

func TestRunReturnsNilOnHandlerShutdown(t *testing.T) {
	booted := &bootShutdown{}
	if err := Run(booted, "tcp://127.0.0.1:0", WithLogger(zap.NewNop())); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !booted.shutdown.Load() {
		t.Fatal("OnShutdown did not run")
	}
}

type bootShutdown struct {
	BuiltinHandler
	shutdown atomic.Bool
}

func (*bootShutdown) OnBoot(*Server) Action { return Shutdown }
func (h *bootShutdown) OnShutdown(*Server)  { h.shutdown.Store(true) }

type ticker struct {
	BuiltinHandler
	ticks atomic.Int32
}

func (h *ticker) OnTick() (time.Duration, Action) {
	if h.ticks.Add(1) == 5 {
		return 0, Shutdown
	}
	return 5 * time.Millisecond, None
}

func TestTicker(t *testing.T) {
	h := &ticker{}
	start := time.Now()
	if err := Run(h, "tcp://127.0.0.1:0", WithTicker(true), WithLogger(zap.NewNop())); err != nil {
		t.Fatal(err)
	}
	if h.ticks.Load() != 5 {
		t.Fatalf("%d ticks", h.ticks.Load())
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("5 ticks 5ms apart took only %v", el)
	}
}

// prefixEcho echoes with a prefix, so two servers' replies differ.
func prefixEcho(prefix string) *funcHandler {
	return &funcHandler{traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		c.Writev([][]byte{[]byte(prefix), b})
		return None
	}}
}

func TestTwoServersDoNotInterfere(t *testing.T) {
	t.Parallel()
	a := serve(t, prefixEcho("A:"), "", WithLoops(2))
	b, err := NewServer(prefixEcho("B:"), "tcp://127.0.0.1:0", WithLoops(2), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- b.Serve() }()
	ca, cb := dial(t, a), dial(t, b)
	ca.Write([]byte("1"))
	cb.Write([]byte("1"))
	expectRead(t, ca, []byte("A:1"))
	expectRead(t, cb, []byte("B:1"))
	b.Shutdown(context.Background())
	<-errc
	ca.Write([]byte("2"))
	expectRead(t, ca, []byte("A:2"))
	if a.CountConnections() != 1 || b.CountConnections() != 0 {
		t.Fatalf("counts %d %d", a.CountConnections(), b.CountConnections())
	}
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	for name, bal := range map[string]balancer.Balancer{
		"roundrobin": balancer.NewRoundRobin(),
		"leastconns": balancer.NewLeastConnections(),
	} {
		t.Run(name, func(t *testing.T) {
			s := serve(t, &echoHandler{}, "", WithLoops(4), WithLoadBalancer(bal))
			for i := 0; i < 40; i++ {
				c := dial(t, s)
				c.Write([]byte("x"))
				expectRead(t, c, []byte("x"))
			}
			for i, l := range s.eng.loops {
				if l.Conns() != 10 {
					t.Errorf("loop %d has %d connections, want 10", i, l.Conns())
				}
			}
		})
	}
	t.Run("sourcehash", func(t *testing.T) {
		s := serve(t, &echoHandler{}, "", WithLoops(4), WithLoadBalancer(balancer.NewSourceAddrHash()))
		for i := 0; i < 8; i++ {
			c := dial(t, s)
			c.Write([]byte("x"))
			expectRead(t, c, []byte("x"))
		}
		busy := 0
		for _, l := range s.eng.loops {
			if l.Conns() > 0 {
				busy++
			}
		}
		if busy != 1 {
			t.Errorf("one source address spread over %d loops", busy)
		}
	})
}

// shutdownInCallback calls Shutdown from OnTraffic, on the server's own
// loop, and reports what it returned and how long it took.
type shutdownInCallback struct {
	BuiltinHandler
	s      atomic.Pointer[Server]
	result chan error
	took   chan time.Duration
}

func (h *shutdownInCallback) OnTraffic(c Conn) Action {
	c.Discard(-1)
	begin := time.Now()
	err := h.s.Load().Shutdown(context.Background())
	h.took <- time.Since(begin)
	h.result <- err
	return None
}

// TestShutdownOnLoopIsRefused: Shutdown called inside a callback cannot
// wait for the loop it runs on; it returns ErrOnEventLoop at once, and
// the shutdown it started completes.
func TestShutdownOnLoopIsRefused(t *testing.T) {
	h := &shutdownInCallback{result: make(chan error, 1), took: make(chan time.Duration, 1)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(2), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	h.s.Store(s)
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	c := dial(t, s)
	c.Write([]byte("stop"))
	took := recv(t, h.took, "Shutdown on a loop to return")
	if err := <-h.result; !errors.Is(err, ErrOnEventLoop) {
		t.Fatalf("Shutdown on a loop returned %v, want ErrOnEventLoop", err)
	}
	if took > time.Second {
		t.Fatalf("Shutdown on a loop took %v to return", took)
	}
	if err := recv(t, served, "the shutdown started on a loop to complete"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v after the shutdown, want EOF", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after the shutdown: %v", err)
	}
}

// whoseConns records the Server of each connection it opens, whether its
// server's Stopping channel was closed when OnShutdown ran, and the
// server OnBoot received.
type whoseConns struct {
	BuiltinHandler
	opened   chan Conn
	booted   chan *Server
	shutdown chan bool // Stopping closed as OnShutdown ran
}

func newWhoseConns() *whoseConns {
	return &whoseConns{opened: make(chan Conn, 8), booted: make(chan *Server, 8), shutdown: make(chan bool, 8)}
}

func (h *whoseConns) OnBoot(s *Server) Action { h.booted <- s; return None }

func (h *whoseConns) OnOpen(c Conn) ([]byte, Action) { h.opened <- c; return nil, None }

func (h *whoseConns) OnShutdown(s *Server) {
	select {
	case <-s.Stopping():
		h.shutdown <- true
	default:
		h.shutdown <- false
	}
}

func stoppingNow(s *Server) bool {
	select {
	case <-s.Stopping():
		return true
	default:
		return false
	}
}

// TestConnServerAndStopping: Conn.Server names the server a connection
// belongs to, when one handler serves two servers and a Client; a
// server's Stopping channel is closed before its OnShutdown runs, and
// only its own.
func TestConnServerAndStopping(t *testing.T) {
	h := newWhoseConns()
	s1, err := NewServer(h, "tcp://127.0.0.1:0", WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s1.Serve() }()
	<-s1.Ready()
	s2 := serve(t, h, "")
	<-s2.Ready()
	recv(t, h.booted, "OnBoot")
	recv(t, h.booted, "OnBoot")
	for _, s := range []*Server{s1, s2} {
		dial(t, s)
		if c := recv(t, h.opened, "OnOpen"); c.Server() != s {
			t.Fatalf("Conn.Server %p, want %p", c.Server(), s)
		}
		if stoppingNow(s) {
			t.Fatal("Stopping closed before Shutdown")
		}
	}
	cl, err := NewClient(h, WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	clSrv := recv(t, h.booted, "the Client's OnBoot")
	if _, err := cl.Dial("tcp", s2.Addr().String()); err != nil {
		t.Fatal(err)
	}
	// The Client's end and s2's, in either order.
	a, b := recv(t, h.opened, "OnOpen").Server(), recv(t, h.opened, "OnOpen").Server()
	if clSrv == s2 || !(a == s2 && b == clSrv || a == clSrv && b == s2) {
		t.Fatalf("Conn.Server %p and %p, want s2 %p and the Client's %p", a, b, s2, clSrv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !recv(t, h.shutdown, "the Client's OnShutdown") || !stoppingNow(clSrv) {
		t.Fatal("the Client's Stopping was not closed by Stop, before OnShutdown")
	}
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if !recv(t, h.shutdown, "OnShutdown") {
		t.Fatal("OnShutdown ran before Stopping was closed")
	}
	if stoppingNow(s2) {
		t.Fatal("the other server's Stopping is closed")
	}
}
