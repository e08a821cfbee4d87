//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestEchoManyConnsRandomSizes(t *testing.T) {
	t.Parallel()
	echoManyConns(t)
}

// echoManyConns: 64 clients each send 20 random messages of up to 200
// KiB, each echoed intact through 4 KiB reads.
func echoManyConns(t *testing.T, opts ...Option) {
	h := &echoHandler{}
	s := serve(t, h, "", append([]Option{WithLoops(4), WithReadBufferCap(4096)}, opts...)...)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			rng := rand.New(rand.NewSource(seed))
			for j := 0; j < 20; j++ {
				msg := make([]byte, 1+rng.Intn(200<<10))
				rng.Read(msg)
				go c.Write(msg)
				got := make([]byte, len(msg))
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("conn %d msg %d: echo differs", seed, j)
					return
				}
			}
		}(int64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "all closed", func() bool { return h.closes.Load() == 64 })
	if h.opens.Load() != 64 {
		t.Errorf("opens = %d", h.opens.Load())
	}
	// The buffers go back just after OnClose returns.
	if !eventually(10*time.Second, func() bool { return s.eng.pool.Outstanding() == 0 }) {
		t.Errorf("%d buffers outstanding with no connections", s.eng.pool.Outstanding())
	}
}

// frameHandler reads 4-byte big-endian length-prefixed frames with Peek
// and Next, and answers each with its payload, exercising partial frames
// left in the ring between reads.
type frameHandler struct {
	BuiltinHandler
	frames atomic.Int64
}

func (h *frameHandler) OnTraffic(c Conn) Action {
	for {
		hdr, err := c.Peek(4)
		if err != nil {
			if !errors.Is(err, io.ErrShortBuffer) || c.InboundBuffered() != len(hdr) {
				panic("bad short Peek")
			}
			return None
		}
		n := int(binary.BigEndian.Uint32(hdr))
		if c.InboundBuffered() < 4+n {
			return None
		}
		c.Discard(4)
		p, _ := c.Next(n)
		c.Write(p)
		h.frames.Add(1)
	}
}

func TestFramesSplitAtEveryBoundary(t *testing.T) {
	t.Parallel()
	h := &frameHandler{}
	s := serve(t, h, "", WithLoops(1))
	var stream []byte
	var want []byte
	for i := 0; i < 50; i++ {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, i*37%300)
		stream = binary.BigEndian.AppendUint32(stream, uint32(len(p)))
		stream = append(stream, p...)
		want = append(want, p...)
	}
	c := dial(t, s)
	c.(*net.TCPConn).SetNoDelay(true)
	for i := range stream { // one byte per write: every split point
		if _, err := c.Write(stream[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			time.Sleep(time.Millisecond) // let some bytes arrive alone
		}
	}
	expectRead(t, c, want)
	// Many frames in one write.
	c.Write(stream)
	expectRead(t, c, want)
	if h.frames.Load() != 100 {
		t.Fatalf("%d frames", h.frames.Load())
	}
}

// bulkHandler sends size bytes of a pattern when it hears "go", and
// reports the connection's output state.
type bulkHandler struct {
	BuiltinHandler
	size      int
	queued    chan int
	writeRets chan int
	conn      atomic.Pointer[conn]
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func (h *bulkHandler) OnTraffic(c Conn) Action {
	c.Discard(-1)
	h.conn.Store(c.(*conn))
	n, _ := c.Write(pattern(h.size))
	h.writeRets <- n
	h.queued <- c.OutboundBuffered()
	return None
}

func TestLargeWriteQueuesAndDrains(t *testing.T) {
	t.Parallel()
	const size = 32 << 20
	h := &bulkHandler{size: size, queued: make(chan int, 1), writeRets: make(chan int, 1)}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(64<<10), WithOutboundLimit(64<<20, FailWrite))
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.Write([]byte("go"))
	if n := <-h.writeRets; n != size {
		t.Fatalf("Write returned %d, want %d", n, size)
	}
	q := <-h.queued
	if q == 0 {
		t.Fatal("a 32 MiB write to a peer that is not reading queued nothing")
	}
	sc := h.conn.Load()
	armed := make(chan bool)
	sc.loop.loop.Submit(func() { armed <- sc.writeInterest() })
	if !<-armed {
		t.Fatal("write interest not armed while output is pending")
	}
	expectRead(t, c, pattern(size))
	type state struct {
		armed    bool
		buffered int
		cap      int
	}
	st := make(chan state)
	sc.loop.loop.Submit(func() { st <- state{sc.writeInterest(), sc.out.Len(), sc.out.Cap()} })
	if got := <-st; got.armed || got.buffered != 0 || got.cap != 0 {
		t.Fatalf("after draining: %+v; want write interest off and the ring returned", got)
	}
}

func TestAsyncWriteOrderAndExactlyOnce(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 1000
	h := &funcHandler{conns: make(chan Conn, 1)}
	s := serve(t, h, "", WithLoops(2))
	c := dial(t, s)
	sc := <-h.conns
	var calls [writers][perWriter]atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				msg := []byte(fmt.Sprintf("%d:%d:%s\n", w, i, strings.Repeat("z", i%500)))
				err := sc.AsyncWrite(msg, func(_ Conn, err error) {
					if err != nil {
						t.Errorf("callback error: %v", err)
					}
					calls[w][i].Add(1)
				})
				if err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	r := bufio.NewReader(c)
	next := make([]int, writers)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for n := 0; n < writers*perWriter; n++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.SplitN(line, ":", 3)
		w, _ := strconv.Atoi(parts[0])
		i, _ := strconv.Atoi(parts[1])
		if i != next[w] {
			t.Fatalf("writer %d: got message %d, want %d", w, i, next[w])
		}
		if len(parts[2]) != i%500+1 {
			t.Fatalf("writer %d message %d corrupted", w, i)
		}
		next[w]++
	}
	wg.Wait()
	waitFor(t, "callbacks", func() bool {
		for w := range calls {
			for i := range calls[w] {
				if calls[w][i].Load() == 0 {
					return false
				}
			}
		}
		return true
	})
	for w := range calls {
		for i := range calls[w] {
			if n := calls[w][i].Load(); n != 1 {
				t.Fatalf("callback %d/%d ran %d times", w, i, n)
			}
		}
	}
}

func TestAsyncWritePendingCallbacksGetErrClosed(t *testing.T) {
	t.Parallel()
	h := &funcHandler{conns: make(chan Conn, 1)}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10), WithOutboundLimit(64<<20, FailWrite))
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	sc := <-h.conns
	big := make([]byte, 4<<20)
	results := make(chan error, 10)
	for i := 0; i < 10; i++ {
		sc.AsyncWrite(big, func(_ Conn, err error) { results <- err })
	}
	// The peer never reads; close from the server side.
	time.AfterFunc(50*time.Millisecond, func() { sc.Close() })
	var nils, closed int
	for i := 0; i < 10; i++ {
		switch err := recv(t, results, "every callback to run"); {
		case err == nil:
			nils++
		case errors.Is(err, ErrClosed):
			closed++
		default:
			t.Fatalf("callback error %v", err)
		}
	}
	if closed == 0 {
		t.Fatalf("40 MiB to a peer that never reads all reported success (%d nil)", nils)
	}
	if err := sc.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-results:
		t.Fatalf("an extra callback ran: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestAsyncWriteAfterServerStopped(t *testing.T) {
	t.Parallel()
	h := &funcHandler{conns: make(chan Conn, 1)}
	s := serve(t, h, "")
	dial(t, s)
	sc := <-h.conns
	s.Shutdown(t.Context())
	var ran atomic.Int32
	err := sc.AsyncWrite([]byte("late"), func(_ Conn, err error) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("callback err = %v", err)
		}
		ran.Add(1)
	})
	if !errors.Is(err, ErrClosed) || ran.Load() != 1 {
		t.Fatalf("AsyncWrite after shutdown: err %v, callback ran %d times", err, ran.Load())
	}
}

// staleHandler keeps every Conn it ever saw and, when a client says
// "poke", writes through all of the closed handles it holds.
type staleHandler struct {
	BuiltinHandler
	mu      sync.Mutex
	all     []Conn
	closed  map[Conn]bool
	results chan error
}

func (h *staleHandler) OnOpen(c Conn) ([]byte, Action) {
	h.mu.Lock()
	h.all = append(h.all, c)
	h.mu.Unlock()
	return nil, None
}

func (h *staleHandler) OnClose(c Conn, _ error) Action {
	h.mu.Lock()
	h.closed[c] = true
	h.mu.Unlock()
	return None
}

func (h *staleHandler) OnTraffic(c Conn) Action {
	c.Discard(-1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, old := range h.all {
		if h.closed[old] {
			_, err := old.Write([]byte("WRONG PEER"))
			h.results <- err
		}
	}
	return None
}

func TestStaleHandlesNeverReachNewConnections(t *testing.T) {
	h := &staleHandler{closed: map[Conn]bool{}, results: make(chan error, 1<<16)}
	s := serve(t, h, "", WithLoops(1))
	opened := func(n int) Conn {
		waitFor(t, "open", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.all) == n })
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.all[n-1]
	}
	const rounds = 50
	var live []net.Conn
	reused := 0
	for round := 0; round < rounds; round++ {
		c := dial(t, s)
		old := opened(2*round + 1)
		c.Close()
		waitFor(t, "close", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.closed[old] })
		n := dial(t, s)
		live = append(live, n)
		if opened(2*round+2).Fd() == old.Fd() {
			reused++
		}
		// The stale handle, used from another goroutine.
		errc := make(chan error, 1)
		old.AsyncWrite([]byte("WRONG PEER"), func(_ Conn, err error) { errc <- err })
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("stale AsyncWrite: %v, want ErrClosed", err)
		}
		if err := old.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("stale Close: %v, want ErrClosed", err)
		}
		// And on the loop: the new connection's traffic makes the handler
		// write through every closed handle it holds.
		n.Write([]byte("poke"))
		waitFor(t, "stale writes", func() bool { return len(h.results) >= round+1 })
	}
	if reused < rounds/2 {
		t.Fatalf("descriptor numbers reused in only %d of %d rounds; the test proves little", reused, rounds)
	}
	for len(h.results) > 0 {
		if err := <-h.results; !errors.Is(err, ErrClosed) {
			t.Fatalf("Write on a closed handle: %v, want ErrClosed", err)
		}
	}
	for _, c := range live {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if n, _ := c.Read(make([]byte, 64)); n > 0 {
			t.Fatal("a live connection received bytes written to a stale handle")
		}
	}
}

// closer closes from the server side on "close", with output pending
// and input unread, to prove every buffer returns to the pool.
type closer struct {
	echoHandler
	unread atomic.Int64
	fds    *serverFDs
}

func (h *closer) OnOpen(c Conn) ([]byte, Action) {
	h.fds.add(c.Fd())
	return h.echoHandler.OnOpen(c)
}

func (h *closer) OnTraffic(c Conn) Action {
	b, _ := c.Peek(-1)
	if bytes.HasPrefix(b, []byte("close")) {
		return Close
	}
	if bytes.HasPrefix(b, []byte("keep")) {
		h.unread.Add(1)
		return None // leave it in the ring
	}
	return h.echoHandler.OnTraffic(c)
}

func (h *closer) OnClose(c Conn, err error) Action {
	if c.InboundBuffered() > 0 {
		if b, _ := c.Peek(4); string(b) != "keep" && string(b) != "clos" {
			panic("unread input lost before OnClose")
		}
	}
	return h.echoHandler.OnClose(c, err)
}

func TestOnCloseOncePerOnOpenAndBuffersReturn(t *testing.T) {
	t.Parallel()
	h := &closer{fds: newServerFDs(t)}
	s := serve(t, h, "", WithLoops(3))
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			switch i % 3 {
			case 0: // server closes
				c.Write([]byte("close"))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c)
			case 1: // leaves unread input, client closes
				c.Write([]byte("keep this"))
				time.Sleep(10 * time.Millisecond)
			case 2: // echo, client closes
				c.Write([]byte("hello"))
				expectRead(t, c, []byte("hello"))
			}
		}(i)
	}
	wg.Wait()
	waitFor(t, "every close", func() bool { return h.closes.Load() == 300 })
	if h.opens.Load() != 300 {
		t.Fatalf("opens %d", h.opens.Load())
	}
	if h.unread.Load() != 100 {
		t.Fatalf("unread %d", h.unread.Load())
	}
	// A connection stops counting, and gives its buffers back, just
	// after its OnClose returns.
	waitFor(t, "no connection counted", func() bool { return s.CountConnections() == 0 })
	waitFor(t, "every pooled buffer back", func() bool { return s.eng.pool.Outstanding() == 0 })
	waitFor(t, "the connections' descriptors closed", func() bool { return len(h.fds.open()) == 0 })
}

func TestReadAPIs(t *testing.T) {
	t.Parallel()
	type result struct {
		peek, next, read string
		disc, buffered   int
		readErr          error
	}
	out := make(chan result, 1)
	h := &funcHandler{traffic: func(c Conn) Action {
		if c.InboundBuffered() < 10 {
			return None
		}
		var r result
		p, _ := c.Peek(3)
		r.peek = string(p)
		n, _ := c.Next(2)
		r.next = string(n)
		r.disc, _ = c.Discard(1)
		buf := make([]byte, 4)
		k, _ := c.Read(buf)
		r.read = string(buf[:k])
		r.buffered = c.InboundBuffered()
		c.Discard(-1)
		_, r.readErr = c.Read(buf)
		out <- r
		return None
	}}
	s := serve(t, h, "", WithLoops(1))
	c := dial(t, s)
	c.Write([]byte("0123"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("456789ab"))
	r := <-out
	want := result{peek: "012", next: "01", disc: 1, read: "3456", buffered: 5, readErr: io.EOF}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestOnOpenOutputAndPeerHalfClose(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	h := &funcHandler{
		open: func(Conn) ([]byte, Action) { return []byte("welcome\n"), None },
		close: func(c Conn, _ error) Action {
			b, _ := c.Next(-1)
			got <- string(b)
			return None
		},
	}
	s := serve(t, h, "", WithLoops(1))
	c := dial(t, s)
	expectRead(t, c, []byte("welcome\n"))
	c.Write([]byte("last words"))
	c.(*net.TCPConn).CloseWrite()
	if got := recv(t, got, "OnClose after the peer's FIN"); got != "last words" {
		t.Fatalf("server got %q before EOF", got)
	}
}

// TestDoDoesNotWaitForQueuedOutput: Do runs fn on the loop even while
// the connection has megabytes queued for a peer that does not read
// (an AsyncWrite callback would wait for them), lets fn use loop-only
// methods, still runs fn once the connection closed, and fails once the
// loop has stopped.
func TestDoDoesNotWaitForQueuedOutput(t *testing.T) {
	t.Parallel()
	h := &funcHandler{conns: make(chan Conn, 1)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(1), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	c := dial(t, s) // never reads
	sc := <-h.conns
	queued := make(chan int, 1)
	sc.Do(func(c Conn) {
		c.Write(make([]byte, 8<<20))
		queued <- c.OutboundBuffered()
	})
	if n := <-queued; n == 0 {
		t.Fatal("nothing queued: the test needs output stuck behind a full socket")
	}
	ran := make(chan int, 1)
	if err := sc.Do(func(c Conn) { ran <- c.OutboundBuffered() }); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, ran, "Do, which must not wait for queued output"); n == 0 {
		t.Fatal("the queue drained although the peer reads nothing")
	}
	c.Close()
	sc.Close()
	closedErr := make(chan error, 1)
	waitFor(t, "Do on a closed conn to run", func() bool {
		return sc.Do(func(c Conn) {
			_, err := c.Write([]byte("x"))
			closedErr <- err
		}) == nil
	})
	if err := <-closedErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Write in Do after close: %v, want ErrClosed", err)
	}
	shutdown(t, s)
	if err := sc.Do(func(Conn) { t.Error("fn ran after the loop stopped") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after shutdown: %v, want ErrClosed", err)
	}
}

func TestDoPanicClosesConn(t *testing.T) {
	t.Parallel()
	h := &pusher{funcHandler: funcHandler{conns: make(chan Conn, 1), closeErrs: make(chan error, 1)}}
	s := serve(t, h, "", WithLoops(1))
	dial(t, s)
	sc := <-h.conns
	if err := sc.Do(func(Conn) { panic("in Do") }); err != nil {
		t.Fatal(err)
	}
	if err := <-h.closeErrs; !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose(%v), want ErrHandlerPanic", err)
	}
}
