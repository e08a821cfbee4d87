//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// clientHandler counts callbacks and collects echoed bytes per conn.
type clientHandler struct {
	BuiltinHandler
	opens, closes atomic.Int64
	mu            sync.Mutex
	closeErrs     []error
	got           map[Conn][]byte
	ctxs          []any
	opened        chan Conn
}

func newClientHandler() *clientHandler {
	return &clientHandler{got: map[Conn][]byte{}, opened: make(chan Conn, 16)}
}

func (h *clientHandler) OnOpen(c Conn) ([]byte, Action) {
	h.opens.Add(1)
	if c.Context() != nil {
		select {
		case h.opened <- c:
		default:
		}
	}
	return nil, None
}

func (h *clientHandler) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got[c] = append(h.got[c], b...)
	h.mu.Unlock()
	return None
}

func (h *clientHandler) OnClose(c Conn, err error) Action {
	h.closes.Add(1)
	h.mu.Lock()
	h.closeErrs = append(h.closeErrs, err)
	h.ctxs = append(h.ctxs, c.Context())
	h.mu.Unlock()
	return None
}

func (h *clientHandler) received(c Conn) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.got[c])
}

func startClient(t *testing.T, h Handler, opts ...Option) *Client {
	t.Helper()
	cl, err := NewClient(h, append([]Option{WithLogger(zap.NewNop())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return cl
}

// stdEchoServer is a net/http-style goroutine-per-connection echo server.
func stdEchoServer(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return echoOn(t, ln)
}

// echoOn serves echo on ln, a goroutine per connection, until the test
// ends.
func echoOn(t *testing.T, ln net.Listener) net.Listener {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln
}

func testManyDials(t *testing.T, network, addr string, n int) {
	h := newClientHandler()
	fds := openFDs(t)
	cl := startClient(t, h, WithLoops(2))
	conns := make([]Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	const dialers = 8
	for g := 0; g < dialers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += dialers {
				c, err := cl.Dial(network, addr)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
				if err := c.AsyncWrite([]byte(fmt.Sprintf("msg %d", i)), nil); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "every echo", func() bool {
		for i, c := range conns {
			if h.received(c) != fmt.Sprintf("msg %d", i) {
				return false
			}
		}
		return true
	})
	if got := h.opens.Load(); got != int64(n) {
		t.Fatalf("OnOpen ran %d times, want %d", got, n)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "every close", func() bool { return h.closes.Load() == int64(n) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "descriptors back to the baseline", func() bool { return openFDs(t) <= fds })
}

func TestClientThousandsToMillServer(t *testing.T) {
	t.Parallel()
	s := serve(t, &echoHandler{}, "tcp://127.0.0.1:0", WithLoops(2))
	testManyDials(t, "tcp", s.Addr().String(), 2000)
}

func TestClientThousandsToStdlibServer(t *testing.T) {
	t.Parallel()
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	testManyDials(t, "tcp", ln.Addr().String(), 2000)
}

func TestClientUnixAndIPv6(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "e.sock")
	ln := stdEchoServer(t, "unix", sock)
	testManyDials(t, "unix", ln.Addr().String(), 50)
	if hasIPv6(t) {
		ln6 := stdEchoServer(t, "tcp6", "[::1]:0")
		testManyDials(t, "tcp6", ln6.Addr().String(), 50)
	}
}

func TestClientDialRefused(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	h := newClientHandler()
	fds := openFDs(t)
	cl := startClient(t, h, WithLoops(1))
	c, err := cl.Dial("tcp", addr)
	if c != nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to a closed port: %v, %v; want ECONNREFUSED", c, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Addr.String() != addr {
		t.Fatalf("error %#v: want a *net.OpError for dial %s", err, addr)
	}
	h.mu.Lock()
	closeErrs := append([]error(nil), h.closeErrs...)
	h.mu.Unlock()
	if h.opens.Load() != 0 || len(closeErrs) != 1 || !errors.Is(closeErrs[0], syscall.ECONNREFUSED) {
		t.Fatalf("OnOpen %d times, OnClose errors %v; want no OnOpen and one ECONNREFUSED", h.opens.Load(), closeErrs)
	}
	if n := openFDs(t); n > fds+4 { // the client's own pollers and wake-ups
		t.Fatalf("%d descriptors open after a refused dial, baseline %d", n, fds)
	}
	if st := cl.Stats(); st.Total.Open != 0 {
		t.Fatalf("Stats.Open = %d after a refused dial", st.Total.Open)
	}
}

// fullBacklog returns the address of a listener whose accept queue is
// full, so that a further connect hangs in SYN_SENT.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for i := 0; i < 2; i++ { // fill the queue (backlog 0 holds one)
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		c.Close()
		t.Skip("this kernel completes connects beyond the accept queue")
	}
	return addr
}

func TestClientDialTimeoutAndContext(t *testing.T) {
	t.Parallel()
	addr := fullBacklog(t)
	h := newClientHandler()
	cl := startClient(t, h, WithLoops(1), WithDialTimeout(150*time.Millisecond))
	start := time.Now()
	_, err := cl.Dial("tcp", addr)
	if !errors.Is(err, ErrDialTimeout) {
		t.Fatalf("Dial: %v, want ErrDialTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timed out after %v, want about 150ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cl2 := startClient(t, newClientHandler(), WithLoops(1), WithDialTimeout(0))
	if _, err := cl2.DialContext(ctx, "tcp", addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialContext: %v, want context.DeadlineExceeded", err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := cl2.DialContext(cancelled, "tcp", addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("DialContext with a cancelled context: %v", err)
	}
	waitFor(t, "OnClose for the timed-out dial", func() bool { return h.closes.Load() == 1 })
}

func TestClientDialAsyncCarriesContext(t *testing.T) {
	t.Parallel()
	s := serve(t, &echoHandler{}, "tcp://127.0.0.1:0", WithLoops(1))
	h := newClientHandler()
	cl := startClient(t, h, WithLoops(2), WithDialTimeout(3*time.Second))
	if err := cl.DialAsync("tcp", s.Addr().String(), "upstream-1"); err != nil {
		t.Fatal(err)
	}
	c := recv(t, h.opened, "OnOpen for the async dial")
	if c.Context() != "upstream-1" {
		t.Fatalf("Context() = %v", c.Context())
	}
	c.AsyncWrite([]byte("ping"), nil)
	waitFor(t, "the echo", func() bool { return h.received(c) == "ping" })

	// A failing async dial reports through OnClose, with its context.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	if err := cl.DialAsync("tcp", deadAddr, "upstream-2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnClose for the refused async dial", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, x := range h.ctxs {
			if x == "upstream-2" {
				return errors.Is(h.closeErrs[i], syscall.ECONNREFUSED)
			}
		}
		return false
	})
	// Names resolve too.
	port := s.Addr().(*net.TCPAddr).Port
	if err := cl.DialAsync("tcp", fmt.Sprintf("localhost:%d", port), "by-name"); err != nil {
		t.Fatal(err)
	}
	if c := recv(t, h.opened, "OnOpen for the dial by name"); c.Context() != "by-name" {
		t.Fatalf("Context() = %v", c.Context())
	}
	// A name that does not resolve ends in OnClose too.
	if err := cl.DialAsync("tcp", "no-such-host.invalid:80", "bad-name"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnClose for the unresolvable name", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, x := range h.ctxs {
			if x == "bad-name" {
				return h.closeErrs[i] != nil
			}
		}
		return false
	})
}

func TestClientEnroll(t *testing.T) {
	t.Parallel()
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := newClientHandler()
	cl := startClient(t, h, WithLoops(1))
	c, err := cl.Enroll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != ln.Addr().String() {
		t.Fatalf("RemoteAddr %v, want %v", c.RemoteAddr(), ln.Addr())
	}
	c.AsyncWrite([]byte("adopted"), nil)
	waitFor(t, "the echo", func() bool { return h.received(c) == "adopted" })
	if _, err := nc.Write([]byte("x")); err == nil {
		t.Fatal("the enrolled net.Conn should be closed")
	}
}

func TestClientStopFailsPendingDials(t *testing.T) {
	t.Parallel()
	addr := fullBacklog(t)
	h := newClientHandler()
	cl, err := NewClient(h, WithLogger(zap.NewNop()), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Dial("tcp", addr); err == nil {
		t.Fatal("Dial before Start should fail")
	}
	cl.Start()
	errc := make(chan error, 1)
	go func() { _, err := cl.Dial("tcp", addr); errc <- err }()
	waitFor(t, "the dial to be pending", func() bool { return cl.Stats().Total.Open == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("pending Dial: %v, want ErrServerClosed", err)
	}
	if _, err := cl.Dial("tcp", addr); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Dial after Stop: %v, want ErrServerClosed", err)
	}
	if h.closes.Load() != 1 {
		t.Fatalf("OnClose ran %d times, want 1", h.closes.Load())
	}
}

// udpClientHandler records a dialled UDP conn's events.
type udpClientHandler struct {
	clientHandler
	dgErrs chan error
}

func (h *udpClientHandler) OnDatagramError(_ Conn, err error) {
	select {
	case h.dgErrs <- err:
	default:
	}
}

func TestClientDialUDP(t *testing.T) {
	t.Parallel()
	s := serve(t, &echoHandler{}, "udp://127.0.0.1:0", WithLoops(1))
	h := &udpClientHandler{clientHandler: *newClientHandler(), dgErrs: make(chan error, 4)}
	cl := startClient(t, h, WithLoops(1))
	c, err := cl.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(PacketConn); !ok || c.RemoteAddr().String() != s.Addr().String() {
		t.Fatalf("dialled %T with RemoteAddr %v", c, c.RemoteAddr())
	}
	for i := 0; i < 10; i++ {
		if err := c.AsyncWrite([]byte(fmt.Sprintf("<%d>", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	want := "<0><1><2><3><4><5><6><7><8><9>"
	waitFor(t, "ten echoed datagrams", func() bool { return h.received(c) == want })

	// A connected socket to a closed port hears ICMP port unreachable as
	// ECONNREFUSED: reported, and the conn and loop carry on.
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	d, err := cl.Dial("udp", deadAddr)
	if err != nil {
		t.Fatal(err)
	}
	d.AsyncWrite([]byte("anyone?"), nil)
	if err := recv(t, h.dgErrs, "the ICMP error reported"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("OnDatagramError(%v), want ECONNREFUSED", err)
	}
	c.AsyncWrite([]byte("after"), nil)
	waitFor(t, "the echo after the ICMP error", func() bool { return h.received(c) == want+"after" })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnClose for the closed UDP conn", func() bool { return h.closes.Load() == 1 })
	if err := d.AsyncWrite([]byte("x"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("AsyncWrite after Close: %v, want ErrClosed", err)
	}
	if h.opens.Load() != 2 {
		t.Fatalf("OnOpen ran %d times, want 2", h.opens.Load())
	}
}

// closeInOnClose closes (and writes to) the conn its OnClose gets.
type closeInOnClose struct {
	BuiltinHandler
	errs chan error
}

func (h *closeInOnClose) OnClose(c Conn, err error) Action {
	_, werr := c.Write([]byte("x"))
	c.Close()
	h.errs <- errors.Join(err, werr)
	return None
}

// TestClientFailedUDPDialOnClose: a UDP attempt that fails (here on a
// name that does not resolve, and on a stopped client's draining loop)
// reaches OnClose with a PacketConn that refuses writes and whose Close
// is harmless.
func TestClientFailedUDPDialOnClose(t *testing.T) {
	t.Parallel()
	h := &closeInOnClose{errs: make(chan error, 4)}
	cl := startClient(t, h, WithLoops(1), WithDialTimeout(3*time.Second))
	if _, err := cl.Dial("udp", "no-such-host.invalid:53"); err == nil {
		t.Fatal("dial of an unresolvable name succeeded")
	}
	err := <-h.errs
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("OnClose: %v; want the write in it to fail with ErrClosed", err)
	}
	if _, err := cl.Dial("udp", "127.0.0.1:9"); err != nil {
		t.Fatal(err) // a UDP connect needs no listener
	}
}

// TestClientStopRightAfterStart: work handed to a client between Start
// and its loops running still ends properly when Stop comes at once:
// every OnOpen has its OnClose, a dial ends in one OnClose, and no
// descriptor is left open.
func TestClientStopRightAfterStart(t *testing.T) {
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	fds := openFDs(t)
	for i := 0; i < 20; i++ {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		h := newClientHandler()
		cl, err := NewClient(h, WithLoops(1), WithLogger(zap.NewNop()))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Enroll(nc); err != nil {
			t.Fatal(err)
		}
		if err := cl.DialAsync("tcp", ln.Addr().String(), "dial"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := cl.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		// The enrolled conn opened and closed; the dial either did too
		// or failed: two OnClose calls either way.
		if o, c := h.opens.Load(), h.closes.Load(); c != 2 || o > 2 {
			t.Fatalf("round %d: OnOpen %d times, OnClose %d; want OnClose twice", i, o, c)
		}
	}
	waitFor(t, "descriptors back to the baseline", func() bool { return openFDs(t) <= fds })
}

// loopCaller calls the client's blocking methods from its own loop: Dial
// in OnOpen, and in OnTraffic Dial, or Stop on "stop". It reports each
// call's error and duration.
type loopCaller struct {
	BuiltinHandler
	cl      atomic.Pointer[Client]
	target  string
	results chan loopCall
}

type loopCall struct {
	what string
	err  error
	took time.Duration
}

func (h *loopCaller) call(what string, fn func() error) {
	begin := time.Now()
	err := fn()
	h.results <- loopCall{what, err, time.Since(begin)}
}

func (h *loopCaller) OnOpen(Conn) ([]byte, Action) {
	h.call("Dial in OnOpen", func() error {
		_, err := h.cl.Load().Dial("tcp", h.target)
		return err
	})
	return nil, None
}

func (h *loopCaller) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	if string(b) == "stop" {
		h.call("Stop in OnTraffic", func() error { return h.cl.Load().Stop(context.Background()) })
		return None
	}
	h.call("DialContext in OnTraffic", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := h.cl.Load().DialContext(ctx, "tcp", h.target)
		return err
	})
	return None
}

// TestClientBlockingCallsOnLoopAreRefused: Dial and DialContext inside a
// client's own callbacks, and Stop there, return ErrOnEventLoop at once
// instead of waiting for the loop they block; the Stop still stops the
// client.
func TestClientBlockingCallsOnLoopAreRefused(t *testing.T) {
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	h := &loopCaller{target: ln.Addr().String(), results: make(chan loopCall, 4)}
	cl := startClient(t, h, WithLoops(1))
	h.cl.Store(cl)
	expect := func(what string) {
		t.Helper()
		r := recv(t, h.results, what+" to return")
		if r.what != what || !errors.Is(r.err, ErrOnEventLoop) {
			t.Fatalf("%s returned %v, want %s to return ErrOnEventLoop", r.what, r.err, what)
		}
		if r.took > time.Second {
			t.Fatalf("%s took %v to return", r.what, r.took)
		}
	}
	c, err := cl.Dial("tcp", h.target) // from the test's goroutine: fine
	if err != nil {
		t.Fatal(err)
	}
	expect("Dial in OnOpen")
	c.AsyncWrite([]byte("dial"), nil) // echoed: OnTraffic
	expect("DialContext in OnTraffic")
	c.AsyncWrite([]byte("stop"), nil)
	expect("Stop in OnTraffic")
	waitFor(t, "the client to stop", func() bool {
		_, err := cl.Dial("tcp", h.target)
		return errors.Is(err, ErrServerClosed)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Stop(ctx); err != nil {
		t.Fatalf("Stop after the Stop on a loop: %v", err)
	}
}
