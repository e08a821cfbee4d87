//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mill-io/mill/codec"
)

// panicky panics in whatever its input names, and echoes otherwise.
type panicky struct {
	BuiltinHandler
	panics     atomic.Int64
	closeAsked atomic.Int64
	closes     chan error
}

func (h *panicky) OnOpen(c Conn) ([]byte, Action) {
	return nil, None
}

func (h *panicky) OnTraffic(c Conn) Action {
	b, _ := c.Peek(-1)
	switch {
	case bytes.HasPrefix(b, []byte("traffic")):
		panic("boom in OnTraffic")
	case bytes.HasPrefix(b, []byte("callback")):
		c.Discard(-1)
		go c.AsyncWrite([]byte("x"), func(Conn, error) { panic("boom in callback") })
		return None
	case bytes.HasPrefix(b, []byte("close")):
		c.Discard(-1)
		c.SetContext("panic in OnClose")
		h.closeAsked.Add(1)
		return Close
	}
	c.Next(-1)
	c.Write(b)
	return None
}

func (h *panicky) OnClose(c Conn, err error) Action {
	if errors.Is(err, ErrHandlerPanic) {
		var pe *PanicError
		if !errors.As(err, &pe) || len(pe.Stack) == 0 {
			panic("no stack in PanicError")
		}
		h.panics.Add(1)
	}
	select {
	case h.closes <- err:
	default:
	}
	if c.Context() == "panic in OnClose" {
		panic("boom in OnClose")
	}
	return None
}

func TestPanicsCloseOnlyTheirConnection(t *testing.T) {
	t.Parallel()
	h := &panicky{closes: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(2))
	// A steady client that must see no error throughout.
	steady := dial(t, s)
	stop := make(chan struct{})
	var steadyErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 5)
		for {
			select {
			case <-stop:
				return
			default:
			}
			steady.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := steady.Write([]byte("alive")); err != nil {
				steadyErr = err
				return
			}
			if _, err := steady.Read(buf); err != nil || string(buf) != "alive" {
				steadyErr = errors.Join(err, errors.New("steady client got "+string(buf)))
				return
			}
		}
	}()
	const n = 1000
	var clientsWG sync.WaitGroup
	for i := 0; i < n; i++ {
		clientsWG.Add(1)
		go func(i int) {
			defer clientsWG.Done()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			switch i % 3 {
			case 0:
				c.Write([]byte("traffic"))
			case 1:
				c.Write([]byte("callback"))
			case 2:
				c.Write([]byte("close"))
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var b [16]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					return // closed by the server, as it must be
				}
			}
		}(i)
	}
	clientsWG.Wait()
	waitFor(t, "every panic reported", func() bool {
		return h.panics.Load() == n-n/3 && h.closeAsked.Load() == n/3
	})
	close(stop)
	wg.Wait()
	if steadyErr != nil {
		t.Fatalf("a connection that never panicked saw: %v", steadyErr)
	}
	// A connection stops counting just after its OnClose returns.
	if !eventually(10*time.Second, func() bool { return s.CountConnections() == 1 }) {
		t.Fatalf("CountConnections = %d, want 1", s.CountConnections())
	}
	if n := s.eng.pool.Outstanding(); n != 0 {
		t.Fatalf("%d buffers outstanding", n)
	}
}

// panicCodec panics when it decodes a frame starting with '!'.
type panicCodec struct{}

func (panicCodec) Decode(in []byte) ([]byte, int, error) {
	if in[0] == '!' {
		panic("codec boom")
	}
	return in, len(in), nil
}

func (panicCodec) Encode(dst, p []byte) ([]byte, error) { return append(dst, p...), nil }

func TestPanicInCodec(t *testing.T) {
	t.Parallel()
	h := &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		for {
			f, err := c.ReadFrame()
			if f == nil || err != nil {
				return None
			}
			c.WriteFrame(f)
		}
	}}
	s := serve(t, h, "", WithCodec(codec.Shared(panicCodec{})))
	c := dial(t, s)
	c.Write([]byte("ok"))
	expectRead(t, c, []byte("ok"))
	c.Write([]byte("!"))
	if err := recv(t, h.closeErrs, "the codec panic's close"); !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose err = %v", err)
	}
}

type tickPanic struct {
	BuiltinHandler
	ticks atomic.Int32
}

func (h *tickPanic) OnTick() (time.Duration, Action) {
	h.ticks.Add(1)
	panic("tick boom")
}

func (h *tickPanic) OnShutdown(*Server) { panic("shutdown boom") }

func TestPanicInTickAndShutdown(t *testing.T) {
	h := &tickPanic{}
	s := serve(t, h, "", WithTicker(true))
	waitFor(t, "a tick", func() bool { return h.ticks.Load() == 1 })
	c := dial(t, s)
	c.Write([]byte("x")) // the server still accepts and serves
	time.Sleep(20 * time.Millisecond)
	if h.ticks.Load() != 1 {
		t.Fatal("a panicking ticker kept ticking")
	}
	// serve's cleanup shuts down; OnShutdown's panic must not stop that.
}
