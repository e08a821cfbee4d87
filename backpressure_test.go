//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pusher hands each connection to the test and records writability
// changes.
type pusher struct {
	asyncHandler
	mu      sync.Mutex
	changes []bool
	closed  chan error
}

func (h *pusher) OnWritabilityChanged(_ Conn, w bool) {
	h.mu.Lock()
	h.changes = append(h.changes, w)
	h.mu.Unlock()
}

func (h *pusher) OnClose(_ Conn, err error) Action {
	if h.closed != nil {
		h.closed <- err
	}
	return None
}

func (h *pusher) seen() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.changes...)
}

func TestOutboundLimitFailsWritesAndWatermarksTell(t *testing.T) {
	h := &pusher{asyncHandler: asyncHandler{conns: make(chan Conn, 1)}}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10),
		WithWriteWatermarks(64<<10, 256<<10), WithOutboundLimit(1<<20, FailWrite))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	sc := <-h.conns
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var ok, full int
	var sent []byte
	for i := 0; i < 64; i++ { // 4 MiB offered to a peer that does not read
		done := make(chan error, 1)
		sc.AsyncWrite(chunk, func(_ Conn, err error) { done <- err })
		// A barrier: once a task submitted after the write has run, the
		// write has too, and a refusal (or an immediate success) has
		// already called back; no callback yet means it is queued.
		barrier := make(chan struct{})
		sc.(*conn).loop.loop.Submit(func() { close(barrier) })
		<-barrier
		select {
		case err := <-done:
			switch {
			case err == nil:
				ok++
				sent = append(sent, chunk...)
			case errors.Is(err, ErrOutboundFull):
				full++
			default:
				t.Fatalf("callback err %v", err)
			}
		default:
			ok++ // queued: its callback comes once the peer reads
			sent = append(sent, chunk...)
		}
	}
	if full == 0 {
		t.Fatal("4 MiB to a peer that never reads, with a 1 MiB limit: no write was refused")
	}
	if sc.Writable() {
		t.Fatal("Writable() with the queue at its limit")
	}
	waitFor(t, "told unwritable", func() bool { return len(h.seen()) >= 1 })
	// The peer reads everything accepted: exactly the writes not refused.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, len(sent))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Fatal("refused writes were sent anyway")
	}
	waitFor(t, "writable again", func() bool { return sc.Writable() })
	waitFor(t, "told writable", func() bool {
		ch := h.seen()
		return len(ch) == 2 && !ch[0] && ch[1]
	})
}

func TestSlowConsumerClosed(t *testing.T) {
	h := &pusher{asyncHandler: asyncHandler{conns: make(chan Conn, 1)}, closed: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10),
		WithWriteWatermarks(64<<10, 256<<10), WithOutboundLimit(512<<10, CloseSlowConsumer))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	sc := <-h.conns
	chunk := make([]byte, 128<<10)
	for i := 0; i < 16; i++ {
		sc.AsyncWrite(chunk, nil)
	}
	select {
	case err := <-h.closed:
		if !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("OnClose err = %v, want ErrSlowConsumer", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow consumer not closed")
	}
}

// hoarder never consumes in OnTraffic; a "drain" AsyncWrite callback
// consumes everything.
type hoarder struct {
	asyncHandler
	maxBuffered atomic.Int64
	consumed    atomic.Int64
}

func (h *hoarder) OnTraffic(c Conn) Action {
	if n := int64(c.InboundBuffered()); n > h.maxBuffered.Load() {
		h.maxBuffered.Store(n)
	}
	return None
}

func TestInboundLimitPausesReading(t *testing.T) {
	const limit = 256 << 10
	h := &hoarder{asyncHandler: asyncHandler{conns: make(chan Conn, 1)}}
	s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(16<<10),
		WithSocketRecvBuffer(16<<10))
	c := dial(t, s)
	sc := <-h.conns
	const total = 8 << 20
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, total))
		wrote <- err
	}()
	select {
	case <-wrote:
		t.Fatal("8 MiB written to a server that should have stopped reading at 256 KiB")
	case <-time.After(300 * time.Millisecond):
	}
	if m := h.maxBuffered.Load(); m > limit+16<<10 {
		t.Fatalf("buffered %d bytes, limit %d + one read", m, limit)
	}
	// Consume from a callback on the loop; reading resumes each time.
	for h.consumed.Load() < total {
		done := make(chan struct{})
		sc.AsyncWrite(nil, func(c Conn, _ error) {
			n, _ := c.Discard(-1)
			h.consumed.Add(int64(n))
			close(done)
		})
		<-done
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatal(err)
			}
			wrote <- nil
		case <-time.After(time.Millisecond):
		}
		if h.maxBuffered.Load() > limit+16<<10 {
			t.Fatalf("buffered %d bytes", h.maxBuffered.Load())
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

func TestMaxConns(t *testing.T) {
	h := &echoHandler{}
	s := serve(t, h, "", WithLoops(2), WithMaxConns(5))
	for i := 0; i < 5; i++ {
		c := dial(t, s)
		c.Write([]byte("x"))
		expectRead(t, c, []byte("x"))
	}
	extra := dial(t, s)
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over the cap was served")
	}
	waitFor(t, "the refusal counted", func() bool { return s.eng.refused.Load() == 1 })
	if h.opens.Load() != 5 {
		t.Fatalf("OnOpen ran %d times", h.opens.Load())
	}
}

// TestManyNonReadersStayBounded: 1,000 clients that never read while the
// server pushes to each far more than the limit: memory stays within the
// limits and every push beyond them is refused, not queued.
func TestManyNonReadersStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 1,000 connections past their limits")
	}
	const conns, limit, push, pushes = 1000, 64 << 10, 32 << 10, 8
	h := &pusher{asyncHandler: asyncHandler{conns: make(chan Conn, conns)}}
	s := serve(t, h, "", WithLoops(2), WithSocketSendBuffer(4<<10),
		WithWriteWatermarks(16<<10, 32<<10), WithOutboundLimit(limit, FailWrite))
	var clients []net.Conn
	for i := 0; i < conns; i++ {
		c := dial(t, s).(*net.TCPConn)
		c.SetReadBuffer(4 << 10)
		clients = append(clients, c)
	}
	before := rss(t)
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	chunk := make([]byte, push)
	for i := 0; i < conns; i++ {
		sc := <-h.conns
		for j := 0; j < pushes; j++ {
			wg.Add(1)
			sc.AsyncWrite(chunk, func(_ Conn, err error) {
				if errors.Is(err, ErrOutboundFull) {
					refused.Add(1)
				} else {
					accepted.Add(1)
				}
				wg.Done()
			})
		}
	}
	// Refused writes answer at once; accepted ones when the peers close.
	waitFor(t, "every push answered or queued", func() bool {
		return refused.Load()+accepted.Load() > 0 && s.eng.pool.Outstanding() > 0 &&
			refused.Load() >= conns*pushes/2
	})
	grown := rss(t) - before
	if before > 0 && !raceEnabled && grown > conns*limit*11/10 {
		t.Fatalf("RSS grew %d bytes for %d connections with a %d-byte limit", grown, conns, limit)
	}
	t.Logf("%d refused, RSS grew %d KiB (bound %d KiB)", refused.Load(), grown>>10, conns*limit*11/10>>10)
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()
	if refused.Load() == 0 {
		t.Fatal("no push was refused")
	}
}

// drainer writes a burst in its first OnTraffic and flushes, inside the
// same callback, until the peer has read the queue below the low
// watermark: both watermark crossings happen before any task runs.
type drainer struct{ pusher }

func (h *drainer) OnTraffic(c Conn) Action {
	c.Discard(-1)
	if _, err := c.Write(make([]byte, 12<<20)); err != nil {
		panic(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.OutboundBuffered() >= DefaultLowWatermark && time.Now().Before(deadline) {
		c.Flush()
	}
	return None
}

// TestWritabilityToldInPairs: a handler that saw Writable() false must
// hear false and then true, even when the queue drained before the
// first notification could run.
func TestWritabilityToldInPairs(t *testing.T) {
	h := &drainer{pusher{asyncHandler: asyncHandler{conns: make(chan Conn, 1)}}}
	s := serve(t, h, "", WithLoops(1))
	c := dial(t, s)
	go io.Copy(io.Discard, c)
	c.Write([]byte("go"))
	waitFor(t, "two writability changes", func() bool { return len(h.seen()) >= 2 })
	if got := h.seen(); len(got) != 2 || got[0] || !got[1] {
		t.Fatalf("OnWritabilityChanged saw %v, want [false true]", got)
	}
}

// TestInboundLimitHoldsAfterHangup: once both sides have sent FIN the
// poller reports a hang-up on every wait; a connection whose reading is
// paused by the inbound limit must still not read past it.
func TestInboundLimitHoldsAfterHangup(t *testing.T) {
	const limit, readCap = 64 << 10, 16 << 10
	h := &hupHoarder{hoarder: hoarder{asyncHandler: asyncHandler{conns: make(chan Conn, 1)}}}
	// The server's receive buffer must hold everything, so that the
	// client's FIN arrives behind it while reading is paused.
	s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(readCap), WithHalfOpen(true),
		WithSocketRecvBuffer(4<<20))
	c := dial(t, s)
	sc := <-h.conns
	const total = 512 << 10
	if _, err := c.Write(bytes.Repeat([]byte("x"), total)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reading to pause", func() bool { return h.maxBuffered.Load() > limit })
	sc.CloseWrite()
	c.(*net.TCPConn).CloseWrite()
	// Our FIN reached the client once it reads EOF.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF", err)
	}
	time.Sleep(200 * time.Millisecond) // a spinning hang-up would read it all by now
	if m := h.maxBuffered.Load(); m > limit+readCap {
		t.Fatalf("buffered %d bytes after the hang-up, limit %d + one read", m, limit)
	}
	// Consuming resumes reading: every byte arrives, the last ones in
	// OnClose (both sides have shut once the peer's FIN is read).
	deadline := time.Now().Add(10 * time.Second)
	for h.consumed.Load() < total {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d bytes; max buffered %d", h.consumed.Load(), total, h.maxBuffered.Load())
		}
		done := make(chan struct{})
		if err := sc.AsyncWrite(nil, func(c Conn, _ error) {
			n, _ := c.Discard(-1)
			h.consumed.Add(int64(n))
			close(done)
		}); err != nil {
			t.Fatalf("after %d bytes: %v", h.consumed.Load(), err)
		}
		<-done
		if h.consumed.Load() < total {
			time.Sleep(time.Millisecond)
		}
	}
}

// hupHoarder is a hoarder that consumes what is left in OnClose.
type hupHoarder struct{ hoarder }

func (h *hupHoarder) OnClose(c Conn, _ error) Action {
	n, _ := c.Discard(-1)
	h.consumed.Add(int64(n))
	return None
}
