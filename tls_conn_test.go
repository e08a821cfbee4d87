//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

// TLS connections under the connection machinery: closing, limits,
// timeouts, codecs, batching, resets.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/codec"
)

// TestTLSCloseNotify: the peer's close_notify is end of stream (the
// handler's reply still arrives, then ours); the handler's CloseWrite
// sends close_notify and FIN while reading goes on; Shutdown sends
// close_notify.
func TestTLSCloseNotify(t *testing.T) {
	t.Run("peer", func(t *testing.T) {
		h := &echoHandler{closeErrs: make(chan error, 1)}
		s := serveTLS(t, h, nil)
		c := dialTLS(t, s, nil)
		c.Write([]byte("bye"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if string(got) != "bye" || err != nil {
			t.Fatalf("after our close_notify read %q, %v; want the echo then a clean EOF (their close_notify)", got, err)
		}
		if err := recv(t, h.closeErrs, "OnClose"); err != nil {
			t.Errorf("OnClose(%v), want nil", err)
		}
	})
	t.Run("handler half-close", func(t *testing.T) {
		got := make(chan string, 4)
		h := &funcHandler{
			open: func(c Conn) ([]byte, Action) {
				c.Write([]byte("hello"))
				c.CloseWrite()
				return nil, None
			},
			traffic: func(c Conn) Action {
				b, _ := c.Next(-1)
				got <- string(b)
				return None
			},
		}
		s := serveTLS(t, h, nil)
		c := dialTLS(t, s, nil)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if string(b) != "hello" || err != nil {
			t.Fatalf("read %q, %v; want hello, then a clean EOF", b, err)
		}
		if _, err := c.Write([]byte("still heard")); err != nil {
			t.Fatal(err)
		}
		if g := recv(t, got, "OnTraffic after our half-close"); g != "still heard" {
			t.Errorf("OnTraffic got %q", g)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithTLS(tlsServerConfig(t)), WithLogger(zap.NewNop()))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- s.Serve() }()
		c := dialTLS(t, s, nil)
		roundTrip(t, c, []byte("x"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		<-errc
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after Shutdown read %v, want io.EOF (close_notify)", err)
		}
	})
}

// TestTLSBoundedEcho: a TLS client that sends 64 MiB and reads nothing
// until it has sent it all cannot make the server queue more than its
// limits: flow control stops reading it, and every byte comes back.
func TestTLSBoundedEcho(t *testing.T) {
	const total = 32 << 20
	const high, limit = 256 << 10, 1 << 20
	s := serveTLS(t, &echoHandler{}, nil, WithWriteWatermarks(64<<10, high), WithOutboundLimit(limit, CloseSlowConsumer))
	c := dialTLS(t, s, nil)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := randomBytes(1 << 20)
	var peak atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if q := s.Stats().Total.OutboundPending; q > peak.Load() {
				peak.Store(q)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	werr := make(chan error, 1)
	go func() {
		var err error
		for sent := 0; sent < total && err == nil; sent += len(data) {
			_, err = c.Write(data)
		}
		werr <- err
	}()
	// Read nothing until the server must have stopped reading us.
	waitFor(t, "flow control to stop reading", func() bool { return s.Stats().Total.FlowPauses > 0 })
	got := make([]byte, len(data))
	for read := 0; read < total; read += len(data) {
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("after %d bytes: %v", read, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("echo differs after %d bytes", read)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("queued output peaked at %d, past the limit %d", p, limit)
	}
	if cl := s.Stats().Total.Closed; cl.SlowConsumer != 0 {
		t.Errorf("closed %+v: flow control should have kept it below the limit", cl)
	}
}

// TestTLSTimeoutsAndCodec: a codec frames the plaintext, and the idle
// timeout (which does not run during the handshake) closes a TLS
// connection with ErrIdleTimeout and close_notify.
func TestTLSTimeoutsAndCodec(t *testing.T) {
	h := &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		for {
			f, err := c.ReadFrame()
			if f == nil || err != nil {
				return None
			}
			c.WriteFrame(bytes.ToUpper(f))
		}
	}}
	line := codec.Must(codec.NewLine(codec.LineConfig{}))
	s := serveTLS(t, h, nil, WithCodec(codec.Shared(line)), WithIdleTimeout(300*time.Millisecond))
	c := dialTLS(t, s, nil)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("one\ntw"))
	c.Write([]byte("o\n"))
	got := make([]byte, len("ONE\nTWO\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ONE\nTWO\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := recv(t, h.closeErrs, "the idle timeout"); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("OnClose(%v), want ErrIdleTimeout", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the idle timeout read %v, want io.EOF (close_notify)", err)
	}
}

// halfCloser echoes and, when the peer has shut its side, shuts ours
// (as a proxy does once its upstream has answered).
type halfCloser struct{ echoHandler }

func (h *halfCloser) OnHalfClose(c Conn) Action {
	c.CloseWrite()
	return None
}

// TestTLSPeerClosesFirst: a client that reads its reply, then sends
// close_notify and closes at once (curl does) ends clean, although its
// kernel resets our close_notify and FIN that come after.
func TestTLSPeerClosesFirst(t *testing.T) {
	h := &halfCloser{echoHandler{closeErrs: make(chan error, 32)}}
	s := serveTLS(t, h, nil, WithHalfOpen(true))
	for i := 0; i < 20; i++ {
		c := dialTLS(t, s, nil)
		roundTrip(t, c, []byte("request"))
		c.Close()
		if err := recv(t, h.closeErrs, "OnClose"); err != nil {
			t.Fatalf("connection %d: OnClose(%v), want nil", i, err)
		}
	}
	waitFor(t, "20 clean closes counted", func() bool { return s.Stats().Total.Closed.Clean == 20 })
	if cl := s.Stats().Total.Closed; cl.Total() != 20 {
		t.Errorf("closed %+v, want 20 clean", cl)
	}
}

// TestTLSWriteFromWriteCallback: with write batching, a batch grown past
// its limit is sent from inside a TLS write, and the callbacks that
// sending fires write again: they must not run while crypto/tls holds
// its write lock (that deadlocked the loop).
func TestTLSWriteFromWriteCallback(t *testing.T) {
	done := make(chan struct{}, 1)
	h := &funcHandler{traffic: func(c Conn) Action {
		c.Next(-1)
		c.Write([]byte("x"))
		c.AsyncWrite(make([]byte, 30<<10), func(c Conn, err error) {
			c.Write([]byte("y"))
			select {
			case done <- struct{}{}:
			default:
			}
		})
		c.AsyncWrite(make([]byte, 100<<10), nil)
		return None
	}}
	s := serveTLS(t, h, nil, WithWriteBatching(true))
	c := dialTLS(t, s, nil)
	go io.Copy(io.Discard, c)
	c.Write([]byte("go"))
	recvWithin(t, done, 10*time.Second, "the write callback's own write")
}

// TestTLSResetCountsAsIOError: a peer that resets an established TLS
// connection is an I/O error, as on plaintext, not a TLS failure.
func TestTLSResetCountsAsIOError(t *testing.T) {
	seen := make(chan struct{}, 1)
	h := &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		select {
		case seen <- struct{}{}:
		default:
		}
		return None // left unread
	}}
	s := serveTLS(t, h, nil)
	c := dialTLS(t, s, nil)
	c.Write([]byte("x"))
	recv(t, seen, "OnTraffic")
	tc := c.NetConn().(*net.TCPConn)
	tc.SetLinger(0)
	tc.Close()
	err := recv(t, h.closeErrs, "OnClose")
	if errors.Is(err, ErrTLS) || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("OnClose(%v): want ECONNRESET, not ErrTLS", err)
	}
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.IOError == 1 })
}
