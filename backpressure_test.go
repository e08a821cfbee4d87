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
	funcHandler
	mu      sync.Mutex
	changes []bool
}

func (h *pusher) OnWritabilityChanged(_ Conn, w bool) {
	h.mu.Lock()
	h.changes = append(h.changes, w)
	h.mu.Unlock()
}

func (h *pusher) seen() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.changes...)
}

func TestOutboundLimitFailsWritesAndWatermarksTell(t *testing.T) {
	t.Parallel()
	h := &pusher{funcHandler: funcHandler{conns: make(chan Conn, 1)}}
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
	t.Parallel()
	h := &pusher{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10),
		WithWriteWatermarks(64<<10, 256<<10), WithOutboundLimit(512<<10, CloseSlowConsumer))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	sc := <-h.conns
	chunk := make([]byte, 128<<10)
	for i := 0; i < 16; i++ {
		sc.AsyncWrite(chunk, nil)
	}
	if err := recv(t, h.closeErrs, "the slow consumer's close"); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("OnClose err = %v, want ErrSlowConsumer", err)
	}
}

// hoarder never consumes its input and has nothing pending: once its
// unread input reaches the inbound limit nothing can ever consume it,
// and the connection closes with ErrInboundLimit.
type hoarder struct {
	funcHandler
	maxBuffered atomic.Int64
	consumed    atomic.Int64
}

func (h *hoarder) OnTraffic(c Conn) Action {
	h.note(c)
	return None
}

// note records the most unread input OnTraffic has seen.
func (h *hoarder) note(c Conn) {
	if n := int64(c.InboundBuffered()); n > h.maxBuffered.Load() {
		h.maxBuffered.Store(n)
	}
}

// TestInboundLimitClosesAHoarder: a handler that never consumes, with
// nothing pending that could, is closed with ErrInboundLimit (counted)
// once its unread input passes the limit, having buffered no more than
// the limit and one read, instead of holding the connection forever.
func TestInboundLimitClosesAHoarder(t *testing.T) {
	t.Parallel()
	const limit, readCap = 256 << 10, 16 << 10
	h := &hoarder{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(readCap),
		WithSocketRecvBuffer(16<<10))
	c := dial(t, s)
	<-h.conns
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := c.Write(make([]byte, 8<<20)) // ends with the reset of the close
		wrote <- err
	}()
	expectClose(t, h.closeErrs, ErrInboundLimit, 10*time.Second)
	if m := h.maxBuffered.Load(); m <= limit || m > limit+readCap {
		t.Fatalf("OnTraffic saw at most %d unread bytes; want past the limit %d by at most one read (%d)", m, limit, readCap)
	}
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.InboundLimit == 1 })
	if err := <-wrote; err == nil {
		t.Fatal("8 MiB written in full to a connection closed at 256 KiB")
	}
}

// holder holds its input on purpose with PauseReading once it has more
// than the inbound limit unread; the test consumes it later, from a Do
// on the loop, and resumes reading there.
type holder struct {
	hoarder
	mu   sync.Mutex
	got  []byte
	held atomic.Bool
}

func (h *holder) OnTraffic(c Conn) Action {
	h.note(c)
	if c.InboundBuffered() > h.limit() {
		if err := c.PauseReading(); err != nil {
			panic(err)
		}
		h.held.Store(true)
	}
	return None
}

func (h *holder) limit() int { return 256 << 10 }

// take takes everything unread, in order. Loop goroutine.
func (h *holder) take(c Conn) {
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got = append(h.got, b...)
	h.mu.Unlock()
	h.consumed.Add(int64(len(b)))
}

// consume takes everything unread and resumes reading. Loop goroutine
// (inside a Do).
func (h *holder) consume(c Conn) {
	h.take(c)
	h.held.Store(false)
	c.ResumeReading()
}

func (h *holder) received() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.got...)
}

func (h *holder) OnClose(c Conn, err error) Action {
	h.take(c) // the rest is still readable in OnClose
	return h.hoarder.OnClose(c, err)
}

// wantsRead reports, from the conn's loop, whether it is open and
// whether it reads.
func wantsRead(sc Conn) (open, reading bool) {
	inspect(sc, func(c *conn) { open, reading = !c.closed(), c.readInterest() })
	return open, reading
}

// TestInboundLimitPausesReading: a handler that holds its input with
// PauseReading and consumes it later from a Do keeps the connection: it
// stops reading while held, buffers no more than the limit and one read,
// and every byte arrives, in order.
func TestInboundLimitPausesReading(t *testing.T) {
	t.Parallel()
	const readCap = 16 << 10
	h := &holder{hoarder: hoarder{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}}
	limit := h.limit()
	s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(readCap),
		WithSocketRecvBuffer(16<<10))
	c := dial(t, s)
	sc := <-h.conns
	total := 8 << 20
	if raceEnabled {
		total = 2 << 20
	}
	want := pattern(total)
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(want)
		wrote <- err
	}()
	waitFor(t, "the handler to hold its input", h.held.Load)
	if open, reading := wantsRead(sc); !open || reading {
		t.Fatalf("held at the limit: open %v, reading %v; want open and not reading", open, reading)
	}
	done := false
	deadline := time.Now().Add(30 * time.Second)
	for h.consumed.Load() < int64(total) {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d bytes", h.consumed.Load(), total)
		}
		// Wait until the handler holds again or the client is done, then
		// consume from the loop.
		for !h.held.Load() && !done {
			select {
			case err := <-wrote:
				if err != nil {
					t.Fatal(err)
				}
				done = true
			case <-time.After(2 * time.Millisecond):
			}
		}
		ran := make(chan struct{})
		if err := sc.Do(func(c Conn) { h.consume(c); close(ran) }); err != nil {
			t.Fatalf("Do after %d bytes: %v", h.consumed.Load(), err)
		}
		<-ran
		if m := h.maxBuffered.Load(); m > int64(limit+readCap) {
			t.Fatalf("buffered %d bytes, limit %d + one read", m, limit)
		}
	}
	if !done {
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
	}
	if got := h.received(); !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, differing from the %d sent", len(got), total)
	}
	if n := s.Stats().Total.Closed.InboundLimit; n != 0 {
		t.Fatalf("%d connections closed at the inbound limit", n)
	}
	select {
	case err := <-h.closeErrs:
		t.Fatalf("closed: %v", err)
	default:
	}
}

// worker leaves its input unread until work it started at the limit
// consumes it: a worker-pool task that waits for the test, then consumes
// through Do; or a Do submitted from OnTraffic itself.
type worker struct {
	holder
	viaDo   bool
	busy    atomic.Bool
	waiting chan struct{} // a task is waiting at the limit
	release chan struct{} // lets it go on
	free    chan struct{} // closed: tasks go on without waiting
}

func (h *worker) OnTraffic(c Conn) Action {
	h.note(c)
	if c.InboundBuffered() <= h.limit() || h.busy.Swap(true) {
		return None
	}
	consume := func(c Conn) {
		h.take(c)
		h.busy.Store(false)
	}
	if h.viaDo {
		c.Do(consume)
		return None
	}
	if err := c.Submit(func() {
		select {
		case h.waiting <- struct{}{}:
			select {
			case <-h.release:
			case <-h.free:
			}
		case <-h.free:
		}
		c.Do(consume)
	}); err != nil {
		panic(err)
	}
	return None
}

// TestInboundLimitWaitsForPendingWork: unread input at the limit while
// work that may consume it is pending (a worker-pool task, a Do) pauses
// reading but does not close the connection; the work consumes, reading
// resumes, and every byte arrives in order.
func TestInboundLimitWaitsForPendingWork(t *testing.T) {
	t.Parallel()
	for _, viaDo := range []bool{false, true} {
		name := "Submit"
		if viaDo {
			name = "Do"
		}
		t.Run(name, func(t *testing.T) {
			const readCap = 16 << 10
			h := &worker{
				holder: holder{hoarder: hoarder{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}},
				viaDo:  viaDo, waiting: make(chan struct{}), release: make(chan struct{}), free: make(chan struct{}),
			}
			limit := h.limit()
			s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(readCap),
				WithSocketRecvBuffer(16<<10))
			free := sync.OnceFunc(func() { close(h.free) })
			t.Cleanup(free) // before the server's shutdown waits for the tasks
			c := dial(t, s)
			sc := <-h.conns
			const total = 2 << 20
			want := pattern(total)
			wrote := make(chan error, 1)
			go func() {
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				_, err := c.Write(want)
				wrote <- err
			}()
			if !viaDo {
				// Each time the task waits, the connection is paused at
				// the limit and still open.
				for i := 0; i < 3; i++ {
					recv(t, h.waiting, "a task at the limit")
					waitFor(t, "reading paused at the limit", func() bool {
						open, reading := wantsRead(sc)
						if !open {
							t.Fatal("closed while a task was pending")
						}
						return !reading
					})
					h.release <- struct{}{}
				}
			}
			free() // the rest goes on without checks
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			waitFor(t, "everything consumed", func() bool {
				if h.consumed.Load() >= total {
					return true
				}
				if !h.busy.Load() {
					sc.Do(func(c Conn) { // what is left below the limit
						b, _ := c.Next(-1)
						h.mu.Lock()
						h.got = append(h.got, b...)
						h.mu.Unlock()
						h.consumed.Add(int64(len(b)))
					})
				}
				return false
			})
			if got := h.received(); !bytes.Equal(got, want) {
				t.Fatalf("received %d bytes, differing from the %d sent", len(got), total)
			}
			if m := h.maxBuffered.Load(); m > int64(limit+readCap) {
				t.Fatalf("buffered %d bytes, limit %d + one read", m, limit)
			}
			if n := s.Stats().Total.Closed.InboundLimit; n != 0 {
				t.Fatalf("%d connections closed at the inbound limit", n)
			}
		})
	}
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	if testing.Short() {
		t.Skip("pushes 1,000 connections past their limits")
	}
	const conns, limit, push, pushes = 1000, 64 << 10, 32 << 10, 8
	h := &pusher{funcHandler: funcHandler{conns: make(chan Conn, conns)}}
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
	t.Parallel()
	h := &drainer{pusher{funcHandler: funcHandler{conns: make(chan Conn, 1)}}}
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
// poller reports a hang-up on every wait; a connection whose handler
// holds its input at the inbound limit must still not read past it, nor
// be closed, and once consumed from a Do every byte arrives, the last
// ones in OnClose.
func TestInboundLimitHoldsAfterHangup(t *testing.T) {
	t.Parallel()
	const readCap = 16 << 10
	h := &holder{hoarder: hoarder{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}}
	limit := h.limit()
	// The server's receive buffer must hold everything, so that the
	// client's FIN arrives behind it while reading is paused.
	s := serve(t, h, "", WithLoops(1), WithInboundLimit(limit), WithReadBufferCap(readCap), WithHalfOpen(true),
		WithSocketRecvBuffer(4<<20))
	c := dial(t, s)
	sc := <-h.conns
	const total = 1 << 20
	want := pattern(total)
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler to hold its input", h.held.Load)
	sc.CloseWrite()
	c.(*net.TCPConn).CloseWrite()
	// Our FIN reached the client once it reads EOF.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF", err)
	}
	// A spinning hang-up would read on: give it a while to.
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if open, reading := wantsRead(sc); !open || reading {
			t.Fatalf("held after the hang-up: open %v, reading %v", open, reading)
		}
	}
	if m := h.maxBuffered.Load(); m > int64(limit+readCap) {
		t.Fatalf("buffered %d bytes after the hang-up, limit %d + one read", m, limit)
	}
	// Consuming resumes reading: every byte arrives, the last ones in
	// OnClose (both sides have shut once the peer's FIN is read).
	deadline := time.Now().Add(10 * time.Second)
	for closed := false; !closed; {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d bytes; max buffered %d", h.consumed.Load(), total, h.maxBuffered.Load())
		}
		select {
		case err := <-h.closeErrs:
			if err != nil {
				t.Fatalf("OnClose err = %v, want nil", err)
			}
			closed = true
			continue
		case <-time.After(time.Millisecond):
		}
		if h.held.Load() {
			ran := make(chan struct{})
			sc.Do(func(c Conn) { h.consume(c); close(ran) })
			<-ran
		}
	}
	if got := h.received(); !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, differing from the %d sent", len(got), total)
	}
	if m := h.maxBuffered.Load(); m > int64(limit+readCap) {
		t.Fatalf("buffered %d bytes, limit %d + one read", m, limit)
	}
}

// watchedEcho is the naive echo (b, _ := c.Next(-1); c.Write(b)) that
// also records, on the loop, the most output it ever had queued and
// what became of its writes.
type watchedEcho struct {
	echoHandler
	maxQueued atomic.Int64
	accepted  atomic.Int64 // bytes written
	refused   atomic.Int64 // writes refused with ErrOutboundFull
	other     atomic.Int64 // writes failed otherwise
}

func (h *watchedEcho) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	n, err := c.Write(b)
	switch {
	case err == nil:
		h.accepted.Add(int64(n))
	case errors.Is(err, ErrOutboundFull):
		h.refused.Add(1)
	default:
		h.other.Add(1)
	}
	if q := int64(c.OutboundBuffered()); q > h.maxQueued.Load() {
		h.maxQueued.Store(q)
	}
	return None
}

// TestFlowControlNaiveEchoIsLossless: a client writes everything before
// it reads; the naive echo gets it all back, byte for byte, because flow
// control stops reading the connection while its output is past the
// high watermark, so the queue never holds more than that and one read.
func TestFlowControlNaiveEchoIsLossless(t *testing.T) {
	t.Parallel()
	total := 64 << 20
	if raceEnabled || testing.Short() {
		total = 16 << 20
	}
	h := &watchedEcho{echoHandler: echoHandler{closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1)) // default limits and policy
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(256 << 10) // the kernel holds little of the echo
	want := pattern(total)
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(60 * time.Second))
		_, err := c.Write(want)
		if err == nil {
			err = c.CloseWrite()
		}
		wrote <- err
	}()
	// Read only once the server has stopped reading us.
	waitFor(t, "a flow-control pause", func() bool { return s.Stats().Total.FlowPauses > 0 })
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 64<<10)
	off := 0
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if off+n > total || !bytes.Equal(buf[:n], want[off:off+n]) {
				t.Fatalf("echo differs from byte %d on", off)
			}
			off += n
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", off, total, err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if off != total {
		t.Fatalf("read %d of %d bytes before EOF", off, total)
	}
	if err := <-h.closeErrs; err != nil {
		t.Fatalf("OnClose err = %v", err)
	}
	st := s.Stats().Total
	bound := int64(DefaultHighWatermark + DefaultReadBufferCap)
	t.Logf("%d MiB echoed; %d flow-control pauses; at most %d bytes queued (bound %d)",
		total>>20, st.FlowPauses, h.maxQueued.Load(), bound)
	if m := h.maxQueued.Load(); m > bound {
		t.Fatalf("%d bytes queued; want at most the high watermark and one read (%d)", m, bound)
	}
	if h.refused.Load()+h.other.Load() != 0 || st.WritesRefused != 0 {
		t.Fatalf("writes failed: %d refused, %d otherwise", h.refused.Load(), h.other.Load())
	}
	if st.FlowPauses == 0 {
		t.Fatal("no flow-control pause counted")
	}
}

// TestFlowControlOffFailWrite: without flow control a naive echo to a
// client that does not read fills the queue; under FailWrite the writes
// past the limit are refused whole, each counted, and the connection
// stays open: the client reads exactly the bytes accepted, in order,
// and the echo still works.
func TestFlowControlOffFailWrite(t *testing.T) {
	t.Parallel()
	const limit, total = 256 << 10, 4 << 20
	h := &watchedEcho{echoHandler: echoHandler{closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1), WithFlowControl(false), WithSocketSendBuffer(16<<10),
		WithWriteWatermarks(32<<10, 64<<10), WithOutboundLimit(limit, FailWrite))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(pattern(total))
		wrote <- err
	}()
	if err := <-wrote; err != nil { // the server reads on, whatever it owes
		t.Fatal(err)
	}
	waitFor(t, "the server to read everything", func() bool { return s.Stats().Total.BytesIn == total })
	if h.refused.Load() == 0 {
		t.Fatal("no write refused")
	}
	if got := s.Stats().Total.WritesRefused; got != uint64(h.refused.Load()) {
		t.Fatalf("Stats.WritesRefused = %d, the handler saw %d refusals", got, h.refused.Load())
	}
	if m := h.maxQueued.Load(); m > limit {
		t.Fatalf("%d bytes queued past the %d-byte limit", m, limit)
	}
	// What was accepted arrives, then the connection still echoes.
	n := h.accepted.Load()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatalf("reading the %d accepted bytes: %v", n, err)
	}
	c.Write([]byte("still there?"))
	expectRead(t, c, []byte("still there?"))
	select {
	case err := <-h.closeErrs:
		t.Fatalf("closed: %v", err)
	default:
	}
	t.Logf("%d writes refused, %d of %d bytes echoed", h.refused.Load(), n, total)
}

// TestFlowControlOffClosesSlowConsumer: without flow control, under the
// default policy, a naive echo to a client that does not read ends with
// the connection closed (ErrSlowConsumer, counted), and what the client
// read before the close is exactly what it sent up to some point: a
// stream cut short, never one with a gap.
func TestFlowControlOffClosesSlowConsumer(t *testing.T) {
	t.Parallel()
	h := &watchedEcho{echoHandler: echoHandler{closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1), WithFlowControl(false), WithSocketSendBuffer(16<<10))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	const total = DefaultOutboundLimit + 8<<20
	want := pattern(total)
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(want)
		wrote <- err
	}()
	expectClose(t, h.closeErrs, ErrSlowConsumer, 20*time.Second)
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.SlowConsumer == 1 })
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	t.Logf("the client read %d bytes, then %v", len(got), err)
	if len(got) > total || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("the %d bytes read are not the start of what was sent", len(got))
	}
	if int64(len(got)) > h.accepted.Load() {
		t.Fatalf("read %d bytes, %d accepted", len(got), h.accepted.Load())
	}
	if st := s.Stats().Total; st.WritesRefused != 0 {
		t.Fatalf("%d writes refused under CloseSlowConsumer", st.WritesRefused)
	}
	<-wrote // fails with the reset, or succeeds if it all fit before
}

// TestTotalOutboundLimit: many clients that never read, each pushed far
// more than the server-wide cap on queued output. The total queued never
// passes the cap by more than one write per connection (a connection
// with nothing queued is not held to the total, so each one's first
// queued write may take it past), and every one of them, being slow, is
// closed with ErrSlowConsumer and counted.
func TestTotalOutboundLimit(t *testing.T) {
	t.Parallel()
	const conns, chunk, capTotal, pushes = 8, 16 << 10, 1 << 20, 256 // 4 MiB offered to each
	h := &pusher{funcHandler: funcHandler{conns: make(chan Conn, conns), closeErrs: make(chan error, conns)}}
	s := serve(t, h, "", WithLoops(2), WithSocketSendBuffer(4<<10),
		WithWriteWatermarks(64<<10, 256<<10), WithTotalOutboundLimit(capTotal))
	for i := 0; i < conns; i++ {
		c := dial(t, s).(*net.TCPConn)
		c.SetReadBuffer(4 << 10)
	}
	var peak atomic.Int64
	var wg sync.WaitGroup
	data := make([]byte, chunk)
	for i := 0; i < conns; i++ {
		sc := <-h.conns
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed atomic.Bool
			var last chan struct{}
			for j := 0; j < pushes && !failed.Load(); j++ {
				ran := make(chan struct{})
				// Write and measure on the loop: the total right after
				// a write is as high as it gets.
				if sc.Do(func(c Conn) {
					defer close(ran)
					if _, err := c.Write(data); err != nil {
						failed.Store(true)
					}
					if n := s.eng.outPending(); n > peak.Load() {
						peak.Store(n)
					}
				}) != nil {
					return
				}
				last = ran
				if j%16 == 15 {
					<-ran // keep a bounded number of Do functions queued
				}
			}
			if last != nil {
				<-last
			}
		}()
	}
	for i := 0; i < conns; i++ {
		expectClose(t, h.closeErrs, ErrSlowConsumer, 20*time.Second)
	}
	wg.Wait()
	waitFor(t, "the closes counted", func() bool { return s.Stats().Total.Closed.SlowConsumer == conns })
	st := s.Stats().Total
	bound := int64(capTotal + conns*chunk)
	t.Logf("%d connections, at most %d bytes queued in all (cap %d, bound %d)", conns, peak.Load(), capTotal, bound)
	if p := peak.Load(); p > bound {
		t.Fatalf("%d bytes queued in all, past the cap %d and one write per connection", p, capTotal)
	}
	if peak.Load() < capTotal/2 {
		t.Fatalf("only %d bytes ever queued: the test did not reach the cap", peak.Load())
	}
	if st.OutboundPending != 0 {
		t.Fatalf("%d bytes still queued once every connection closed", st.OutboundPending)
	}
}
