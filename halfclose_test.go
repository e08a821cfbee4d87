//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fatReply answers any input with size bytes of pattern.
type fatReply struct {
	BuiltinHandler
	size   int
	closed chan error
}

func (h *fatReply) OnTraffic(c Conn) Action {
	c.Discard(-1)
	c.Write(pattern(h.size))
	return None
}

func (h *fatReply) OnClose(_ Conn, err error) Action {
	h.closed <- err
	return None
}

func TestPeerHalfCloseGetsWholeReply(t *testing.T) {
	const size = 8 << 20
	h := &fatReply{size: size, closed: make(chan error, 1)}
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
	if err := <-h.closed; err != nil {
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
	select {
	case err := <-h.closed:
		if err != nil {
			t.Fatalf("OnClose err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed once both sides were shut")
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
	select {
	case s := <-h.after:
		if s != "still listening?" {
			t.Fatalf("server read %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server stopped reading after CloseWrite")
	}
}
