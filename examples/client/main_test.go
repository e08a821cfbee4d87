package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// millEcho is examples/echo's handler, the usual upstream here. With
// mill's defaults (flow control, slow consumers closed) it is bounded
// and loses nothing; a refused write closes the connection.
type millEcho struct{ mill.BuiltinHandler }

func (millEcho) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	return mill.None
}

// startEcho serves a mill echo server on a free port and returns its
// address.
func startEcho(t testing.TB) string {
	t.Helper()
	s, err := mill.NewServer(millEcho{}, "tcp://127.0.0.1:0", mill.WithLoops(2), mill.WithLogger(zap.NewNop()))
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

// startProxy runs the proxy in-process on a free port, in front of
// upstreamAddr, and shuts it down when the test ends.
func startProxy(t testing.TB, upstreamAddr string, extra ...mill.Option) *proxy {
	t.Helper()
	return startProxyTLS(t, upstreamAddr, nil, extra...)
}

// startProxyTLS is startProxy terminating TLS with serverTLS (nil: none).
func startProxyTLS(t testing.TB, upstreamAddr string, serverTLS *tls.Config, extra ...mill.Option) *proxy {
	t.Helper()
	p, err := newProxy("tcp://127.0.0.1:0", upstreamAddr, 2, 5*time.Second, serverTLS, log.New(testWriter{t}, "proxy: ", 0),
		append([]mill.Option{mill.WithLogger(zap.NewNop())}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	return p
}

// testWriter sends a log to the test's log. The proxy logs from its
// loops, which stop before the test ends.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// waitIdle waits until the proxy has no connection left on either side,
// no copy in flight and no connection counted as paused.
func waitIdle(t testing.TB, p *proxy) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		down, up, fl, hold := p.server.CountConnections(), p.client.Stats().Total.Open, p.inFlight.Load(), p.holding.Load()
		if down == 0 && up == 0 && fl == 0 && hold == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not idle: %d downstream and %d upstream connections open, %d bytes in flight, %d connections paused", down, up, fl, hold)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialProxy(t testing.TB, p *proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// randomBytes returns n bytes from a generator seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8), 2: byte(seed >> 16)}).Read(b)
	return b
}

// echoThrough sends data through c in pieces of varying size, shuts
// the sending side, and checks that exactly data comes back, then EOF:
// the FIN went through the proxy to the echo server and back.
func echoThrough(c *net.TCPConn, data []byte, seed uint64) error {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	werr := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(seed, 1))
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(16<<10))
			if _, err := c.Write(rest[:n]); err != nil {
				werr <- err
				return
			}
			rest = rest[n:]
		}
		werr <- c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %v", err)
	}
	if err != nil {
		return fmt.Errorf("read after %d bytes: %v", len(got), err)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < min(len(got), len(data)) && got[i] == data[i] {
			i++
		}
		return fmt.Errorf("got %d bytes back, want %d; first difference at %d", len(got), len(data), i)
	}
	return nil
}

// (a) Many clients at once, each with its own data, through the proxy to
// a mill echo server.
func TestManyClientsEchoThroughProxy(t *testing.T) {
	p := startProxy(t, startEcho(t))
	const clients, size = 200, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.server.Addr().String())
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %v", i, err)
				return
			}
			defer c.Close()
			if err := echoThrough(c.(*net.TCPConn), randomBytes(uint64(i), size), uint64(i)); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// (d) Every connection on both sides is gone once the clients are.
	waitIdle(t, p)
	st := p.server.Stats().Total
	if st.Accepted != clients || st.Closed.Clean != clients {
		t.Errorf("downstream: %d accepted, %d closed cleanly; want %d each (closed: %+v)", st.Accepted, st.Closed.Clean, clients, st.Closed)
	}
	if up := p.client.Stats().Total; up.Accepted != clients || up.Closed.Clean != clients {
		t.Errorf("upstream: %d opened, %d closed cleanly; want %d each (closed: %+v)", up.Accepted, up.Closed.Clean, clients, up.Closed)
	}
	t.Logf("%d pauses for backpressure, input held before the upstream was open %d times", p.pauses.Load(), p.early.Load())
}

// Issue 13, section 1: 100 MB of random bytes through the proxy to a mill
// echo server and back, from a client whose writer never waits for its
// reader: one goroutine writes everything, then shuts the sending side,
// while another reads what comes back and compares it as it goes. Every
// run must be byte-identical, then EOF. 16 MB under -race or -short, and
// 3 runs instead of 10 under -short.
func TestBulkEchoWriterNeverWaits(t *testing.T) {
	size, runs := 100<<20, 10
	if raceEnabled || testing.Short() {
		size = 16 << 20
	}
	if testing.Short() {
		runs = 3
	}
	p := startProxy(t, startEcho(t))
	data := randomBytes(13, size)
	var total time.Duration
	for i := range runs {
		c := dialProxy(t, p)
		start := time.Now()
		c.SetDeadline(start.Add(60 * time.Second))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data) // all of it, whatever the reader does
			if err == nil {
				err = c.CloseWrite()
			}
			werr <- err
		}()
		n, err := readSame(c, data)
		if werr := <-werr; werr != nil {
			t.Fatalf("run %d: write: %v", i, werr)
		}
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if n != len(data) {
			t.Fatalf("run %d: %d bytes came back, want %d", i, n, len(data))
		}
		d := time.Since(start)
		total += d
		c.Close()
		t.Logf("run %d: %d MB there and back in %v", i, size>>20, d.Round(time.Millisecond))
	}
	waitIdle(t, p)
	if st := p.server.Stats().Total; st.Closed.Clean != uint64(runs) {
		t.Errorf("downstream closed: %+v; want %d clean closes", st.Closed, runs)
	}
	t.Logf("%d runs of %d MB: %v in all, %d pauses", runs, size>>20, total.Round(time.Millisecond), p.pauses.Load())
}

// readSame reads c until EOF, comparing what comes with want as it goes,
// and returns how much came.
func readSame(c net.Conn, want []byte) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := c.Read(buf)
		if n+k > len(want) {
			return n + k, fmt.Errorf("%d bytes came back, more than the %d sent", n+k, len(want))
		}
		if !bytes.Equal(buf[:k], want[n:n+k]) {
			i := 0
			for buf[i] == want[n+i] {
				i++
			}
			return n + k, fmt.Errorf("byte %d differs", n+i)
		}
		n += k
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read after %d bytes: %v", n, err)
		}
	}
}

// slowSink is an upstream that reads slowly, hashing what it reads; at
// EOF it answers with the length and hash, and closes.
func slowSink(t testing.TB) (addr string, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		buf := make([]byte, 32<<10)
		n := 0
		for {
			k, err := c.Read(buf)
			h.Write(buf[:k])
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				ch <- err
				return
			}
			time.Sleep(500 * time.Microsecond) // about 32 KiB a millisecond at best
		}
		_, err = fmt.Fprintf(c, "%d %x\n", n, h.Sum(nil))
		ch <- err
	}()
	return ln.Addr().String(), ch
}

// (b) A large upload to an upstream that reads more slowly than the
// client writes: the proxy must hold back (stop reading the client)
// rather than buffer the difference.
func TestLargeTransferToSlowUpstreamStaysBounded(t *testing.T) {
	addr, sinkDone := slowSink(t)
	p := startProxy(t, addr)
	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(20 * time.Second))

	var maxPending, maxFlight atomic.Int64
	var maxHeap atomic.Uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pending := p.server.Stats().Total.OutboundPending + p.client.Stats().Total.OutboundPending
			if pending > maxPending.Load() {
				maxPending.Store(pending)
			}
			if fl := p.inFlight.Load(); fl > maxFlight.Load() {
				maxFlight.Store(fl)
			}
			if i%20 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > maxHeap.Load() {
					maxHeap.Store(ms.HeapInuse)
				}
			}
		}
	}()

	const total = 32 << 20
	gen := rand.NewChaCha8([32]byte{42})
	h := sha256.New()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for sent := 0; sent < total; sent += len(buf) {
		gen.Read(buf)
		h.Write(buf)
		if _, err := c.Write(buf); err != nil {
			t.Fatalf("write after %d bytes: %v", sent, err)
		}
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatalf("reading the sink's answer: %v", err)
	}
	if err := <-sinkDone; err != nil {
		t.Fatalf("sink: %v", err)
	}
	if want := fmt.Sprintf("%d %x\n", total, h.Sum(nil)); string(reply) != want {
		t.Fatalf("sink answered %q, want %q", reply, want)
	}
	t.Logf("%d MiB in %v; peaks: %d KiB queued output, %d KiB copies in flight, heap %d MiB (%d MiB before); %d pauses",
		total>>20, time.Since(start).Round(time.Millisecond), maxPending.Load()>>10, maxFlight.Load()>>10,
		maxHeap.Load()>>20, heapBefore>>20, p.pauses.Load())

	if p.pauses.Load() == 0 {
		t.Error("the proxy never paused: the test did not exercise backpressure")
	}
	// Queued output: the upstream connection's queue stops growing at
	// the high watermark plus the copies in flight when it crossed it.
	if limit := int64(1 << 20); maxPending.Load() > limit {
		t.Errorf("queued output peaked at %d bytes, want at most %d", maxPending.Load(), limit)
	}
	if limit := int64(maxInFlight + chunkSize); maxFlight.Load() > limit {
		t.Errorf("copies in flight peaked at %d bytes, want at most %d", maxFlight.Load(), limit)
	}
	// The whole process: 32 MiB went through, but the heap never held a
	// fraction of it beyond the test's own buffers and garbage.
	if grew := int64(maxHeap.Load()) - int64(heapBefore); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB during the transfer", grew>>20)
	}
	c.Close()
	waitIdle(t, p)
}

// small is a socket buffer size for tests that want TCP to push back
// early. Not much smaller, though: with a receive buffer under a few
// times the loopback MSS (about 64 KiB), TCP's silly-window avoidance
// leaves the sender waiting for persist-timer probes, which back off to
// seconds.
const small = 128 << 10

// Both directions backed up at once: a client that writes fast and
// reads slowly, through an upstream that echoes with blocking I/O (so it
// stops reading while it cannot write), with small socket buffers
// everywhere so that the proxy's own buffering decides. Resuming one
// direction must not wait for the other to drain: that would deadlock
// (see half.hop).
func TestBothDirectionsBackedUp(t *testing.T) {
	upstream := oneUpstream(t, func(c net.Conn) {
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(small)
		c.(*net.TCPConn).SetWriteBuffer(small)
		io.Copy(c, c)
	})
	p := startProxy(t, upstream, mill.WithSocketRecvBuffer(small), mill.WithSocketSendBuffer(small))
	c := dialProxy(t, p)
	c.SetReadBuffer(small)
	c.SetWriteBuffer(small)
	c.SetDeadline(time.Now().Add(15 * time.Second))
	data := randomBytes(3, 8<<20)
	werr := make(chan error, 1)
	go func() {
		if _, err := c.Write(data); err != nil {
			werr <- err
			return
		}
		werr <- c.CloseWrite()
	}()
	var maxPending int64
	got := make([]byte, 0, len(data))
	buf := make([]byte, 8<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v (pauses %d, in flight %d)", len(got), len(data), err, p.pauses.Load(), p.inFlight.Load())
		}
		pending := p.server.Stats().Total.OutboundPending + p.client.Stats().Total.OutboundPending
		maxPending = max(maxPending, pending)
		time.Sleep(500 * time.Microsecond) // read about 16 MB/s at most
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
	t.Logf("%d pauses; queued output peaked at %d KiB", p.pauses.Load(), maxPending>>10)
	if p.pauses.Load() == 0 {
		t.Error("the proxy never paused: the test did not exercise backpressure")
	}
	if maxPending > 2<<20 {
		t.Errorf("queued output peaked at %d bytes, want at most 2 MiB (two directions)", maxPending)
	}
	c.Close()
	waitIdle(t, p)
}

// An upstream that sends a lot and closes at once: everything it sent
// reaches a client that starts reading late, then EOF.
func TestUpstreamCloseDeliversEverything(t *testing.T) {
	data := randomBytes(7, 8<<20)
	upstream := oneUpstream(t, func(c net.Conn) {
		c.Write(data)
		c.Close()
	})
	p := startProxy(t, upstream)
	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	time.Sleep(200 * time.Millisecond) // let the proxy fill up and pause
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes (equal: %v), %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	c.Close()
	waitIdle(t, p)
}

// The client half-closes at once, so the proxy shuts the upstream
// connection's sending side; the upstream then sends a lot and closes,
// while the client reads late and slowly. With both directions shut the
// poller reports a hang-up on the upstream connection, whose reading the
// proxy paused meanwhile (PauseReading: the client side is full): the
// proxy must still hold no more than one read of its input, the rest
// staying in the kernel, and everything must reach the client, then EOF.
func TestPauseHoldsAfterHangup(t *testing.T) {
	data := randomBytes(11, 4<<20)
	upstream := oneUpstream(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 1)) // the proxy's FIN: EOF
		c.Write(data)
		c.Close()
	})
	// A large receive buffer lets the kernel hold much of what the proxy
	// does not read, so that the upstream's FIN arrives early; a small
	// send buffer keeps the kernel from taking what the proxy forwards
	// to the client.
	p := startProxy(t, upstream, mill.WithSocketRecvBuffer(4<<20), mill.WithSocketSendBuffer(small))
	c := dialProxy(t, p)
	c.SetReadBuffer(small)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// held estimates the input the upstream connection holds unread:
	// bytes read from the upstream, less those in flight and those sent
	// to the client. Read in this order, the counters can make it low,
	// never high.
	held := func() int64 {
		in := int64(p.client.Stats().Total.BytesIn)
		fl := p.inFlight.Load()
		return in - fl - int64(p.server.Stats().Total.BytesOut)
	}
	var maxPending, maxHeld int64
	sample := func() {
		maxPending = max(maxPending, p.server.Stats().Total.OutboundPending)
		maxHeld = max(maxHeld, held())
	}
	for range 30 { // let the proxy fill up and pause, and the FIN arrive
		sample()
		time.Sleep(10 * time.Millisecond)
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, 8<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		sample()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", len(got), len(data), err)
		}
		time.Sleep(500 * time.Microsecond) // read about 16 MB/s at most
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
	t.Logf("peaks: %d KiB held by the upstream connection, %d KiB queued for the client",
		maxHeld>>10, maxPending>>10)
	if limit := int64(chunkSize); maxHeld > limit {
		t.Errorf("the upstream connection held %d bytes, want at most %d", maxHeld, limit)
	}
	// Copies in flight, and perhaps once what the upstream connection
	// held when it closed (see onClose).
	if limit := int64(maxInFlight + 2*chunkSize); maxPending > limit {
		t.Errorf("downstream queue peaked at %d bytes, want at most %d", maxPending, limit)
	}
	c.Close()
	waitIdle(t, p)
}

// Input the proxy holds back (the other side is full) when the other
// side's FIN comes is still delivered, then the client's FIN. Here the
// upstream reads nothing until the client has sent more than the proxy
// passes on, then shuts its sending side: the proxy passes that FIN on to
// the client while the downstream connection is paused holding input.
// That connection must stay open (mill closes one whose unread input is
// stuck with nothing pending that could consume it, unless its handler
// paused it), and once the upstream reads, it must read every byte, then
// EOF; then the downstream connection closes cleanly.
func TestInputHeldAtFINIsDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The upstream shuts its sending side on shut and reads on read,
	// not before.
	shut, read := make(chan struct{}), make(chan struct{})
	var shutOnce, readOnce sync.Once
	doShut := func() { shutOnce.Do(func() { close(shut) }) }
	doRead := func() { readOnce.Do(func() { close(read) }) }
	defer doRead()
	defer doShut() // if the test fails early
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(small)
		<-shut
		c.(*net.TCPConn).CloseWrite()
		<-read
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		received <- b
	}()
	p := startProxy(t, ln.Addr().String(), mill.WithSocketSendBuffer(small))
	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// More than the proxy and the upstream's socket take: the proxy
	// pauses the downstream connection, holding input, until the
	// upstream reads.
	data := randomBytes(100, 4<<20)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	// paused waits until the downstream connection is paused, holding
	// input, and checks that it is still open.
	paused := func(when string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for p.holding.Load() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d connections paused, want the downstream one (%d pauses)", when, p.holding.Load(), p.pauses.Load())
			}
			time.Sleep(time.Millisecond)
		}
		if n := p.server.CountConnections(); n != 1 {
			t.Fatalf("%s: %d downstream connections open, want 1 (closed: %+v)", when, n, p.server.Stats().Total.Closed)
		}
	}
	paused("before the upstream's FIN")
	// The upstream's FIN reaches the client, while the downstream
	// connection stays paused, holding input, and open.
	doShut()
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
		t.Fatalf("the client read %d bytes, %v; want EOF", len(b), err)
	}
	paused("after the upstream's FIN")
	doRead()
	got := <-received
	if !bytes.Equal(got, data) {
		t.Fatalf("the upstream got %d bytes, want %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	c.Close()
	waitIdle(t, p)
	if st := p.server.Stats().Total; st.Closed.Clean != 1 {
		t.Errorf("downstream closed: %+v; want one clean close", st.Closed)
	}
	t.Logf("%d pauses; %d connections closed holding input", p.pauses.Load(), p.leftAtClose.Load())
}

// (c) An upstream that refuses: the downstream connection is closed at
// once, and nothing is left behind.
func TestUpstreamRefusedClosesDownstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nobody listens there now
	p := startProxy(t, dead)
	for i := range 10 {
		c := dialProxy(t, p)
		start := time.Now()
		c.SetDeadline(start.Add(5 * time.Second))
		c.Write([]byte("anyone there?\n"))
		n, err := c.Read(make([]byte, 64))
		if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("client %d: read %d bytes, %v; want EOF or a reset", i, n, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("client %d: closed after %v, want promptly", i, d)
		}
		c.Close()
	}
	waitIdle(t, p)
	if up := p.client.Stats().Total; up.Accepted != 0 || up.Open != 0 {
		t.Errorf("upstream stats: %+v; want no connection", up)
	}
}

// Input (and a FIN) that arrive before the upstream connection is open
// are held and forwarded once it is. Naming the upstream by host name
// makes the client resolve it first, on a goroutine, which leaves the
// client time to send.
func TestInputBeforeUpstreamIsOpen(t *testing.T) {
	_, port, _ := net.SplitHostPort(startEcho(t))
	p := startProxy(t, "tcp4://localhost:"+port)
	for i := range 20 {
		c := dialProxy(t, p)
		msg := []byte("early bird " + strconv.Itoa(i))
		if err := echoThrough(c, msg, uint64(i)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.Close()
	}
	waitIdle(t, p)
	t.Logf("input held before the upstream was open: %d of 20 times", p.early.Load())
	if p.early.Load() == 0 {
		t.Error("no client's input arrived before its upstream connection was open: the test did not exercise holding it")
	}
}

// (d) Clients that go away in every way — mid-transfer, before the
// upstream connection is even open, with a reset — leave nothing behind
// on either side.
func TestClientsLeavingLeaveNothingBehind(t *testing.T) {
	echo := startEcho(t)
	_, port, _ := net.SplitHostPort(echo)
	for _, upstreamAddr := range []string{echo, "tcp4://localhost:" + port} {
		p := startProxy(t, upstreamAddr)
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", p.server.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				switch i % 3 {
				case 0: // at once, maybe before the upstream is open
				case 1: // mid-transfer, with the echo unread
					c.Write(randomBytes(uint64(i), 256<<10))
				case 2: // with a reset
					c.Write([]byte("bye"))
					c.(*net.TCPConn).SetLinger(0)
				}
				c.Close()
			}()
		}
		wg.Wait()
		waitIdle(t, p)
	}
}

// A client that resets while everything is backed up, in front of an
// upstream that blocks writing to the proxy (so it reads nothing until
// it can): the proxy must drop the input the upstream still sends, so
// that the upstream reads what the proxy still has for it and the
// upstream connection can close after it.
func TestClientResetWithBlockedUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*net.TCPConn).SetReadBuffer(small)
				c.(*net.TCPConn).SetWriteBuffer(small)
				io.Copy(c, c)
			}()
		}
	}()
	p := startProxy(t, ln.Addr().String())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.server.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			c.(*net.TCPConn).SetReadBuffer(small)
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			c.Write(randomBytes(uint64(i), 8<<20)) // stops when everything is full
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
	}
	wg.Wait()
	waitIdle(t, p)
}

func TestSplitUpstream(t *testing.T) {
	for _, tc := range []struct{ in, network, address string }{
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"tcp6://[::1]:9000", "tcp6", "[::1]:9000"},
		{"unix:///tmp/x.sock", "unix", "/tmp/x.sock"},
	} {
		n, a, err := splitUpstream(tc.in)
		if err != nil || n != tc.network || a != tc.address {
			t.Errorf("splitUpstream(%q) = %q, %q, %v", tc.in, n, a, err)
		}
	}
	for _, bad := range []string{"udp://127.0.0.1:9000", "tcp://"} {
		if _, _, err := splitUpstream(bad); err == nil {
			t.Errorf("splitUpstream(%q) succeeded", bad)
		}
	}
	if _, err := newProxy("udp://127.0.0.1:0", "127.0.0.1:9000", 1, time.Second, nil, nil); err == nil {
		t.Error("newProxy accepted a UDP listening address")
	}
}

// oneUpstream listens on a loopback port until the test ends, hands the
// first connection to serve on a goroutine of its own, and returns the
// address.
func oneUpstream(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		serve(c)
	}()
	return ln.Addr().String()
}
