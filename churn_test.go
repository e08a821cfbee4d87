//go:build linux

package mill

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// soak turns on the long variants of the robustness tests.
var soak = flag.Bool("mill.soak", false, "run the long robustness variants (TestChurn: 100,000 cycles)")

// The ways a churn cycle ends. The client's 4-byte request names it.
const (
	churnEcho        = iota + 1 // "ping": echo, then the client closes
	churnServerClose            // "clos": the server answers "bye!" and returns Close
	churnReset                  // "rst!": echo, then the client resets (SO_LINGER 0)
	churnHalfClose              // "half": the client shuts its sending side, reads the echo to EOF
	churnModes       = 4
)

var churnRequests = [churnModes + 1]string{churnEcho: "ping", churnServerClose: "clos", churnReset: "rst!", churnHalfClose: "half"}

// churnHandler serves churn cycles and checks that each connection
// closes the way its cycle ends: with a nil error, or with the reset.
type churnHandler struct {
	BuiltinHandler
	opens, closes atomic.Int64
	bad           atomic.Int64
	mu            sync.Mutex
	firstBad      string
}

func (h *churnHandler) OnOpen(Conn) ([]byte, Action) {
	h.opens.Add(1)
	return nil, None
}

func (h *churnHandler) OnTraffic(c Conn) Action {
	if c.Context() == nil {
		b, _ := c.Peek(-1)
		if len(b) < 4 {
			return None // the rest of the request is on its way
		}
		for m := 1; m <= churnModes; m++ {
			if string(b[:4]) == churnRequests[m] {
				c.SetContext(m) // a small int: boxing it does not allocate
			}
		}
		if c.Context() == nil {
			h.wrong(fmt.Sprintf("unknown request %q", b))
			return Close
		}
	}
	if c.Context() == churnServerClose {
		c.Discard(-1)
		c.Write([]byte("bye!"))
		return Close
	}
	b, _ := c.Next(-1)
	c.Write(b)
	return None
}

func (h *churnHandler) OnClose(c Conn, err error) Action {
	h.closes.Add(1)
	switch m, _ := c.Context().(int); {
	case m == churnReset:
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			h.wrong(fmt.Sprintf("reset connection closed with %v, want ECONNRESET", err))
		}
	case m == 0:
		h.wrong(fmt.Sprintf("connection closed (%v) before its request", err))
	case err != nil:
		h.wrong(fmt.Sprintf("%q connection closed with %v, want nil", churnRequests[m], err))
	}
	return None
}

func (h *churnHandler) wrong(what string) {
	if h.bad.Add(1) == 1 {
		h.mu.Lock()
		h.firstBad = what
		h.mu.Unlock()
	}
}

// churnClient runs connect/close cycles against one server.
type churnClient struct {
	addr    string
	dialers [8]net.Dialer // one per source address, 127.0.0.1 to 127.0.0.8
	retries atomic.Int64  // dials retried for want of a local port
}

func newChurnClient(addr string) *churnClient {
	cc := &churnClient{addr: addr}
	for i := range cc.dialers {
		cc.dialers[i] = net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))},
			Timeout:   5 * time.Second,
			// Pick the port at connect, knowing the destination, rather
			// than at bind: source ports are then limited per 4-tuple
			// instead of per source address.
			Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				}); err != nil {
					return err
				}
				return serr
			},
		}
	}
	return cc
}

// cycle runs cycle number i: its source address and its ending depend on
// i. buf is the caller's scratch space (at least 8 bytes).
func (cc *churnClient) cycle(i int, buf []byte) error {
	mode := 1 + i%churnModes
	d := &cc.dialers[(i/churnModes)%len(cc.dialers)]
	var c net.Conn
	var err error
	for try := 0; ; try++ {
		if c, err = d.Dial("tcp", cc.addr); err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) || try == 20 {
			return fmt.Errorf("dial from %v: %w", d.LocalAddr, err)
		}
		cc.retries.Add(1)
		time.Sleep(time.Duration(try+1) * time.Millisecond) // back off until a port frees
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	req := churnRequests[mode]
	if _, err := io.WriteString(tc, req); err != nil {
		return fmt.Errorf("%s: write: %w", req, err)
	}
	want := req
	if mode == churnServerClose {
		want = "bye!"
	}
	if mode == churnHalfClose {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("%s: CloseWrite: %w", req, err)
		}
	}
	if _, err := io.ReadFull(tc, buf[:4]); err != nil || string(buf[:4]) != want {
		return fmt.Errorf("%s: read %q, %v; want %q", req, buf[:4], err, want)
	}
	switch mode {
	case churnServerClose, churnHalfClose:
		if n, err := tc.Read(buf); n != 0 || err != io.EOF {
			return fmt.Errorf("%s: read %q, %v after the reply; want EOF", req, buf[:n], err)
		}
	case churnReset:
		if err := tc.SetLinger(0); err != nil {
			return fmt.Errorf("%s: SetLinger: %w", req, err)
		}
	}
	return nil
}

// run runs cycles [from, to) on conc goroutines until done or deadline.
// It returns how many completed and the first few errors.
func (cc *churnClient) run(from, to, conc int, deadline time.Time) (int, []error) {
	var next, done atomic.Int64
	next.Store(int64(from))
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			buf := make([]byte, 8)
			for {
				i := int(next.Add(1) - 1)
				if i >= to || time.Now().After(deadline) {
					return
				}
				if err := cc.cycle(i, buf); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("cycle %d: %w", i, err))
					n := len(errs)
					mu.Unlock()
					if n >= 5 {
						next.Store(int64(to)) // stop everyone
						return
					}
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), errs
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC() // the first GC may leave sync.Pool victims behind
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestChurn opens and closes many connections, from 8 source addresses
// at once, ending them in every way a connection ends: the client closes,
// the server closes, the client resets, the client half-closes. Every
// OnOpen must be matched by one OnClose with the right error, and when it
// is over the server must hold no connection, pooled buffer, descriptor,
// goroutine or heap it did not hold before. -mill.soak runs 100,000
// cycles instead of 10,000; -short runs 1,000.
func TestChurn(t *testing.T) {
	const conc = 32
	const warmup = 2000
	n, limit := 10000, 45*time.Second
	switch {
	case testing.Short():
		n = 1000
	case *soak:
		n, limit = 100000, 10*time.Minute
	}
	h := &churnHandler{}
	s := serve(t, h, "", WithLoops(2))
	cc := newChurnClient(s.Addr().String())

	// Warm up: the fd table, the poller's event buffer, the buffer pool
	// and the runtime reach the size this load needs.
	if done, errs := cc.run(0, warmup, conc, time.Now().Add(limit)); len(errs) > 0 || done != warmup {
		t.Fatalf("warm-up: %d of %d cycles; errors: %v", done, warmup, errs)
	}
	waitFor(t, "warm-up connections to close", func() bool {
		return h.closes.Load() == warmup && s.CountConnections() == 0
	})
	if h.opens.Load() != warmup {
		t.Fatalf("warm-up: %d opens for %d cycles", h.opens.Load(), warmup)
	}
	h.opens.Store(0)
	h.closes.Store(0)
	fds := openFDs(t)
	goroutines := runtime.NumGoroutine()
	ignoreBaseline := goleak.IgnoreCurrent()
	heap0 := heapAlloc()

	start := time.Now()
	done, errs := cc.run(warmup, warmup+n, conc, start.Add(limit))
	elapsed := time.Since(start)
	for _, err := range errs {
		t.Error(err)
	}
	if done != n && len(errs) == 0 {
		t.Errorf("only %d of %d cycles in %v", done, n, limit)
	}
	eventually(10*time.Second, func() bool { return h.closes.Load() >= int64(done) })
	if o, c := h.opens.Load(), h.closes.Load(); o != int64(done) || c != int64(done) {
		t.Errorf("%d cycles, %d OnOpen, %d OnClose", done, o, c)
	}
	if b := h.bad.Load(); b > 0 {
		h.mu.Lock()
		t.Errorf("%d connections closed the wrong way; the first: %s", b, h.firstBad)
		h.mu.Unlock()
	}
	if !eventually(10*time.Second, func() bool { return s.CountConnections() == 0 }) {
		t.Errorf("CountConnections() = %d with every client gone", s.CountConnections())
	}
	if out := s.eng.pool.Outstanding(); out != 0 {
		t.Errorf("%d pooled buffers outstanding with no connection", out)
	}
	var fdsNow int
	if !eventually(10*time.Second, func() bool { fdsNow = openFDs(t); return fdsNow <= fds }) {
		t.Errorf("%d descriptors open, %d before the cycles", fdsNow, fds)
	}
	goleak.VerifyNone(t, append([]goleak.Option{ignoreBaseline}, antsGoroutines...)...)
	heap1 := heapAlloc()
	delta := int64(heap1) - int64(heap0)
	t.Logf("%d cycles in %v (%.0f/s, %d concurrent, 8 source addresses), %d dials retried for a port",
		done, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(), conc, cc.retries.Load())
	t.Logf("OnOpen %d, OnClose %d; fds %d -> %d; goroutines %d -> %d; heap %d -> %d B (%+d B)",
		h.opens.Load(), h.closes.Load(), fds, fdsNow, goroutines, runtime.NumGoroutine(), heap0, heap1, delta)
	if delta > 1<<20 {
		t.Errorf("heap grew by %d B over %d cycles, want at most 1 MiB", delta, done)
	}
}
