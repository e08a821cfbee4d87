//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func TestPeerHalfCloseGetsWholeReply(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	h := answer(pattern(size))
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(32<<10))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(32 << 10)
	c.Write([]byte("request"))
	c.CloseWrite()
	time.Sleep(20 * time.Millisecond) // let the FIN arrive while the reply is queued
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pattern(size)) {
		t.Fatalf("got %d bytes of an %d-byte reply before EOF", len(got), size)
	}
	if err := <-h.closeErrs; err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}
}

// halfOpen replies to the peer's FIN with "bye" and shuts its own side.
type halfOpen struct {
	BuiltinHandler
	got    bytes.Buffer
	closed chan error
}

func (h *halfOpen) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	h.got.Write(b)
	return None
}

func (h *halfOpen) OnHalfClose(c Conn) Action {
	c.Write([]byte("bye after " + h.got.String()))
	c.CloseWrite()
	return None
}

func (h *halfOpen) OnClose(_ Conn, err error) Action {
	h.closed <- err
	return None
}

func TestHalfOpenHandlerRepliesAfterFIN(t *testing.T) {
	t.Parallel()
	h := &halfOpen{closed: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(1), WithHalfOpen(true))
	c := dial(t, s).(*net.TCPConn)
	c.Write([]byte("all of it"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye after all of it" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := recv(t, h.closed, "the close once both sides were shut"); err != nil {
		t.Fatalf("OnClose err = %v", err)
	}
}

// finisher shuts its sending side on "fin" and keeps counting input.
type finisher struct {
	BuiltinHandler
	after chan string
}

func (h *finisher) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	if string(b) == "fin" {
		c.Write([]byte("last"))
		c.CloseWrite()
		return None
	}
	if _, err := c.Write([]byte("too late")); !errors.Is(err, ErrClosed) {
		h.after <- "write after CloseWrite did not fail"
		return None
	}
	h.after <- string(b)
	return None
}

func TestCloseWriteKeepsReading(t *testing.T) {
	t.Parallel()
	h := &finisher{after: make(chan string, 1)}
	s := serve(t, h, "", WithLoops(1))
	c := dial(t, s)
	c.Write([]byte("fin"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c) // ends at the server's FIN
	if err != nil || string(got) != "last" {
		t.Fatalf("read %q, %v", got, err)
	}
	c.Write([]byte("still listening?"))
	if s := recv(t, h.after, "the server to read on after CloseWrite"); s != "still listening?" {
		t.Fatalf("server read %q", s)
	}
}

// A peer's FIN must not cut work short: without WithHalfOpen, the
// connection closes after the FIN only once nothing is pending for it.

// sawFIN reports, from its loop, whether sc has read the peer's FIN (or
// has closed).
func sawFIN(sc Conn) bool {
	seen := true
	inspect(sc, func(c *conn) { seen = c.peerEOF() || c.closed() })
	return seen
}

// laterAnswer answers a request from work that finishes after the peer's
// FIN: a worker-pool task that waits for the test and answers with
// AsyncWrite, or with Do; or, with hold, a goroutine of its own that
// answers with Do, the handler holding its input (PauseReading) so that
// the connection waits for it. It leaves the last request unread, for
// OnClose.
type laterAnswer struct {
	funcHandler
	answer  []byte
	how     string // "AsyncWrite", "Do" (from a task) or "hold" (PauseReading, a goroutine, Do)
	release chan struct{}
	closed  chan string // OnClose's error, or the input it could still read
}

func (h *laterAnswer) OnTraffic(c Conn) Action {
	if c.Context() != nil {
		return None // answered already
	}
	c.SetContext(true)
	answer := func(c Conn) {
		if _, err := c.Write(h.answer); err != nil {
			panic(err)
		}
	}
	if h.how == "hold" {
		if err := c.PauseReading(); err != nil {
			panic(err)
		}
		go func() {
			<-h.release
			c.Do(func(c Conn) {
				answer(c)
				c.ResumeReading()
			})
		}()
		return None
	}
	err := c.Submit(func() {
		<-h.release
		if h.how == "Do" {
			c.Do(answer)
			return
		}
		c.AsyncWrite(h.answer, func(_ Conn, err error) {
			if err != nil {
				panic(err)
			}
		})
	})
	if err != nil {
		panic(err)
	}
	return None
}

func (h *laterAnswer) OnClose(c Conn, err error) Action {
	if err != nil {
		h.closed <- "error " + err.Error()
		return None
	}
	b, _ := c.Next(-1)
	h.closed <- string(b)
	return None
}

// TestPeerFINWaitsForPendingWork: a client writes a request and shuts
// its side at once; the answer comes from work that only finishes after
// the server has read the FIN. The client reads the whole answer, then
// EOF, every time; the request, left unread, is still there in OnClose.
func TestPeerFINWaitsForPendingWork(t *testing.T) {
	t.Parallel()
	const runs, size = 15, 1 << 20
	for _, how := range []string{"AsyncWrite", "Do", "hold"} {
		t.Run(how, func(t *testing.T) {
			h := &laterAnswer{funcHandler: funcHandler{conns: make(chan Conn, 1)}, answer: pattern(size),
				how: how, release: make(chan struct{}), closed: make(chan string, 1)}
			s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(32<<10))
			t.Cleanup(func() { close(h.release) }) // a failed run leaves no work waiting
			for i := 0; i < runs; i++ {
				c := dial(t, s).(*net.TCPConn)
				c.SetReadBuffer(32 << 10)
				sc := <-h.conns
				c.Write([]byte("work 7\n"))
				c.CloseWrite()
				if how == "hold" {
					// Held, the server does not read the FIN: wait for the
					// kernel to have it.
					if !canSeeFIN {
						t.Skip("no TCP_INFO here to see the FIN arrive")
					}
					waitFor(t, "the FIN to arrive", func() bool { return finArrived(sc.Fd()) })
				} else {
					waitFor(t, "the server to read the FIN", func() bool { return sawFIN(sc) })
					if open, _ := wantsRead(sc); !open {
						t.Fatalf("run %d: closed at the FIN with work pending", i)
					}
				}
				h.release <- struct{}{}
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil || !bytes.Equal(got, h.answer) {
					t.Fatalf("run %d: read %d bytes of a %d-byte answer, then %v", i, len(got), size, err)
				}
				left := recv(t, h.closed, fmt.Sprintf("run %d: the close after the answer", i))
				if want := "work 7\n"; left != want {
					t.Fatalf("run %d: OnClose read %q, want %q", i, left, want)
				}
				c.Close()
			}
		})
	}
}

// pacedEcho is a backpressure-correct echo: it consumes input only while
// the connection is writable, and resumes when told it is writable again;
// meanwhile its input waits, unread.
type pacedEcho struct {
	BuiltinHandler
	closed chan error
}

func (h *pacedEcho) pump(c Conn) {
	for c.Writable() {
		b, _ := c.Next(16 << 10)
		if len(b) == 0 {
			return
		}
		if _, err := c.Write(b); err != nil {
			panic(err)
		}
	}
}

func (h *pacedEcho) OnTraffic(c Conn) Action {
	h.pump(c)
	return None
}

func (h *pacedEcho) OnWritabilityChanged(c Conn, writable bool) {
	if writable {
		h.pump(c)
	}
}

func (h *pacedEcho) OnClose(c Conn, err error) Action {
	if err == nil && c.InboundBuffered() > 0 {
		err = fmt.Errorf("closed with %d bytes unconsumed", c.InboundBuffered())
	}
	h.closed <- err
	return None
}

// TestPeerFINKeepsHeldInput: a client streams to a backpressure-correct
// echo, shuts its side and reads everything back. The input the echo
// holds while unwritable when the FIN arrives is consumed once it is
// writable again, before the close: the echo is byte-identical, run
// after run, with flow control on and off.
func TestPeerFINKeepsHeldInput(t *testing.T) {
	t.Parallel()
	runs, size := 15, 8<<20
	if raceEnabled || testing.Short() {
		size = 2 << 20
	}
	for _, flow := range []bool{true, false} {
		t.Run(fmt.Sprintf("flow=%v", flow), func(t *testing.T) {
			h := &pacedEcho{closed: make(chan error, 1)}
			s := serve(t, h, "", WithLoops(1), WithFlowControl(flow), WithSocketSendBuffer(32<<10),
				WithWriteWatermarks(16<<10, 64<<10))
			want := pattern(size)
			for i := 0; i < runs; i++ {
				c := dial(t, s).(*net.TCPConn)
				c.SetReadBuffer(32 << 10)
				wrote := make(chan error, 1)
				go func() {
					c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					_, err := c.Write(want)
					if err == nil {
						err = c.CloseWrite()
					}
					wrote <- err
				}()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				got, err := io.ReadAll(c)
				if werr := <-wrote; werr != nil {
					t.Fatalf("run %d: write: %v", i, werr)
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("run %d: read %d of %d bytes (identical: %v), then %v", i, len(got), size,
						bytes.Equal(got, want[:min(len(got), size)]), err)
				}
				if err := <-h.closed; err != nil {
					t.Fatalf("run %d: OnClose: %v", i, err)
				}
				c.Close()
			}
			// Counted just after OnClose returns.
			if !eventually(10*time.Second, func() bool { return s.Stats().Total.Closed.Clean == uint64(runs) }) {
				t.Fatalf("%d clean closes of %d", s.Stats().Total.Closed.Clean, runs)
			}
		})
	}
}
