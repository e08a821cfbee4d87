//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// echoBytewise echoes its input one byte per Write.
func echoBytewise(c Conn) Action {
	b, _ := c.Next(-1)
	for i := range b {
		c.Write(b[i : i+1])
	}
	return None
}

// With batching, the many writes of one callback leave in one writev;
// without, each is its own system call.
func TestWriteBatchingOneSendPerCallback(t *testing.T) {
	t.Parallel()
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprint("batched=", batched), func(t *testing.T) {
			s := serve(t, &funcHandler{traffic: echoBytewise}, "", WithLoops(1), WithWriteBatching(batched))
			c := dial(t, s)
			msg := bytes.Repeat([]byte("0123456789"), 10)
			for i := 0; i < 20; i++ {
				c.Write(msg)
				expectRead(t, c, msg)
			}
			// The counters move just after the write the client has seen.
			waitFor(t, "the counters", func() bool { return s.Stats().Total.BytesOut == 20*uint64(len(msg)) })
			st := s.Stats().Total
			if batched && st.Writes != st.Reads {
				t.Errorf("batched: %d writes for %d reads, want one per read", st.Writes, st.Reads)
			}
			if !batched && st.Writes != st.BytesOut {
				t.Errorf("unbatched: %d writes for %d bytes, want one per byte", st.Writes, st.BytesOut)
			}
		})
	}
}

func TestWriteBatchingEchoManyConns(t *testing.T) {
	t.Parallel()
	echoManyConns(t, WithWriteBatching(true))
}

// laterWriter writes from callbacks that run outside any poll event: Do,
// and an AsyncWrite callback that runs while the loop sends its batches.
type laterWriter struct{ funcHandler }

func (h *laterWriter) OnTraffic(c Conn) Action {
	c.Discard(-1)
	c.Write([]byte("a")) // waits for the end of the iteration...
	// ...and the next iteration's tasks run before that: this write is
	// queued behind "a", so its callback runs while the batch is sent,
	// and its write joins the batch being sent.
	c.AsyncWrite([]byte("b"), func(c Conn, err error) {
		if err == nil {
			c.Write([]byte("c"))
		}
	})
	return None
}

// A write made in a Do callback, or in a write callback run while the
// batches go out, must not wait for another event to wake the loop.
func TestWriteBatchingOutsideEvents(t *testing.T) {
	t.Parallel()
	h := &laterWriter{funcHandler{conns: make(chan Conn, 1)}}
	s := serve(t, h, "", WithLoops(1), WithWriteBatching(true))
	c := dial(t, s)
	sc := <-h.conns
	if err := sc.Do(func(c Conn) { c.Write([]byte("from Do;")) }); err != nil {
		t.Fatal(err)
	}
	expectRead(t, c, []byte("from Do;"))
	for i := 0; i < 3; i++ { // and the conn takes part in later batches
		c.Write([]byte("go"))
		expectRead(t, c, []byte("abc"))
	}
}

// pieces answers any input with size bytes of pattern in piece-sized
// writes, and closes after them if closeAfter.
func pieces(size, piece int, closeAfter bool) *funcHandler {
	return &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		c.Discard(-1)
		p := pattern(size)
		for len(p) > 0 {
			n := min(piece, len(p))
			if _, err := c.Write(p[:n]); err != nil {
				return Close
			}
			p = p[n:]
		}
		if closeAfter {
			return Close
		}
		return None
	}}
}

// A batch that reaches the limit goes out at once and the rest queues as
// usual, through a socket that takes far less than the reply; the peer's
// FIN, arriving while it is queued, ends the connection only after the
// last byte.
func TestWriteBatchingLargeReplyAndHalfClose(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	h := pieces(size, 1000, false)
	s := serve(t, h, "", WithLoops(1), WithWriteBatching(true), WithSocketSendBuffer(32<<10))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(32 << 10)
	c.Write([]byte("request"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pattern(size)) {
		t.Fatalf("got %d bytes of a %d-byte reply before EOF", len(got), size)
	}
	expectClose(t, h.closeErrs, nil, 5*time.Second)
	if st := s.Stats().Total; st.Writes < size/batchLimit {
		t.Errorf("%d writes for %d bytes", st.Writes, size)
	}
}

// A callback that writes and then returns Close gets its batch sent
// before the connection closes.
func TestWriteBatchingCloseAfterWrite(t *testing.T) {
	t.Parallel()
	h := pieces(5000, 100, true)
	s := serve(t, h, "", WithLoops(1), WithWriteBatching(true))
	c := dial(t, s)
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, pattern(5000)) {
		t.Fatalf("read %d bytes, %v; want the 5000-byte reply, then EOF", len(got), err)
	}
	expectClose(t, h.closeErrs, nil, 5*time.Second)
}

// Output left over from a batch's send starts the write timeout, as a
// write the socket did not take does.
func TestWriteBatchingWriteTimeout(t *testing.T) {
	t.Parallel()
	h := pieces(8<<20, 1000, false)
	s := serve(t, h, "", WithLoops(1), WithWriteBatching(true), WithSocketSendBuffer(16<<10),
		WithWriteTimeout(150*time.Millisecond))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	c.Write([]byte("go")) // and never read the answer
	expectClose(t, h.closeErrs, ErrWriteTimeout, 5*time.Second)
}

// doPusher streams numbered lines to each client from a goroutine, each
// line written by a Do callback (so batched), at most 16 in flight, and
// counts the lines whose Write returned nil.
type doPusher struct {
	BuiltinHandler
	mu      sync.Mutex
	acked   map[string]int // client address -> lines accepted
	pushers sync.WaitGroup
	opened  chan struct{}
}

func (h *doPusher) OnOpen(c Conn) ([]byte, Action) {
	key := c.RemoteAddr().String()
	h.pushers.Add(1)
	go func() {
		defer h.pushers.Done()
		window := make(chan struct{}, 16)
		var stop sync.Once
		stopped := make(chan struct{})
		for seq := 0; ; seq++ {
			select {
			case window <- struct{}{}:
			case <-stopped:
				return
			}
			line := []byte(fmt.Sprintf("%d\n", seq))
			err := c.Do(func(c Conn) {
				<-window
				if _, err := c.Write(line); err != nil {
					stop.Do(func() { close(stopped) })
					return
				}
				h.mu.Lock()
				h.acked[key]++
				h.mu.Unlock()
			})
			if err != nil {
				return
			}
			if seq == 100 {
				h.opened <- struct{}{}
			}
		}
	}()
	return nil, None
}

// A graceful shutdown in the middle of a stream of batched writes sends
// every write that was accepted: each client reads exactly the lines
// whose Write returned nil, in order, nothing cut.
func TestWriteBatchingDrain(t *testing.T) {
	t.Parallel()
	const clients = 50
	h := &doPusher{acked: map[string]int{}, opened: make(chan struct{}, clients)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(2), WithWriteBatching(true), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	type result struct {
		key   string
		lines int
		err   error
	}
	results := make(chan result, clients)
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			r := result{key: c.LocalAddr().String()}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err == io.EOF && line == "" {
					break
				}
				if err != nil {
					r.err = fmt.Errorf("after %d lines: %v (%q)", r.lines, err, line)
					break
				}
				if line != fmt.Sprintf("%d\n", r.lines) {
					r.err = fmt.Errorf("line %d reads %q", r.lines, line)
					break
				}
				r.lines++
			}
			results <- r
		}()
	}
	for i := 0; i < clients; i++ {
		<-h.opened
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	h.pushers.Wait()
	for i := 0; i < clients; i++ {
		r := <-results
		if r.err != nil {
			t.Errorf("client %s: %v", r.key, r.err)
			continue
		}
		h.mu.Lock()
		acked := h.acked[r.key]
		h.mu.Unlock()
		if r.lines != acked || acked <= 100 {
			t.Errorf("client %s read %d lines; %d were accepted", r.key, r.lines, acked)
		}
	}
	if st := s.Stats().Total; st.Closed.Shutdown != clients {
		t.Fatalf("closed by the drain: %d, want %d", st.Closed.Shutdown, clients)
	}
}

// A large write with nothing queued is not held back (a copy would cost
// more than its own system call saves); a small one is, and a large one
// behind it joins the queue, in order.
func TestWriteBatchingLargeWriteAtOnce(t *testing.T) {
	t.Parallel()
	large, small := bytes.Repeat([]byte("L"), batchDirect), []byte("small")
	queued := make(chan [3]int, 1)
	h := &funcHandler{traffic: func(c Conn) Action {
		c.Discard(-1)
		var q [3]int
		c.Write(large)
		q[0] = c.OutboundBuffered()
		c.Write(small)
		q[1] = c.OutboundBuffered()
		c.Write(large)
		q[2] = c.OutboundBuffered()
		queued <- q
		return None
	}}
	s := serve(t, h, "", WithLoops(1), WithWriteBatching(true))
	c := dial(t, s)
	c.Write([]byte("go"))
	want := [3]int{0, len(small), len(small) + len(large)}
	if q := recv(t, queued, "the callback"); q != want {
		t.Fatalf("queued after each write: %v, want %v", q, want)
	}
	expectRead(t, c, append(append(append([]byte(nil), large...), small...), large...))
}
