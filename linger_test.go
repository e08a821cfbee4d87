//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// rejecter answers its first input with an error reply and closes
// lingering, as a server does after a request it refuses (an HTTP 413,
// say) while the client may still be sending. It then checks that
// writing fails, and reports OnClose.
type rejecter struct {
	BuiltinHandler
	reply     []byte
	lingering atomic.Int64 // when CloseLingering was called, in UnixNano
	after     chan error   // the outcome of each write tried after CloseLingering
	closed    chan error
	closedAt  atomic.Int64
}

func (h *rejecter) OnTraffic(c Conn) Action {
	if h.lingering.Load() != 0 {
		h.after <- errors.New("OnTraffic ran while lingering")
		return None
	}
	c.Discard(-1)
	if _, err := c.Write(h.reply); err != nil {
		panic(err)
	}
	h.lingering.Store(time.Now().UnixNano())
	if err := c.CloseLingering(); err != nil {
		panic(err)
	}
	if err := c.CloseLingering(); !errors.Is(err, ErrClosed) {
		h.after <- errors.New("a second CloseLingering did not fail with ErrClosed")
	}
	c.AsyncWrite([]byte("too late"), func(_ Conn, err error) { h.after <- err })
	c.Do(func(c Conn) {
		_, err := c.Write([]byte("too late"))
		h.after <- err
	})
	return None
}

func (h *rejecter) OnClose(_ Conn, err error) Action {
	h.closedAt.Store(time.Now().UnixNano())
	h.closed <- err
	return None
}

// expectLateWritesFailed checks the two writes rejecter tries after
// CloseLingering.
func (h *rejecter) expectLateWritesFailed(t *testing.T) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if err := recv(t, h.after, "a write after CloseLingering to report"); !errors.Is(err, ErrClosed) {
			t.Fatalf("a write after CloseLingering: %v, want ErrClosed", err)
		}
	}
}

// TestCloseLingeringReplyReachesAnUploader: the server answers the first
// bytes of a 10 MB upload with an error reply and closes lingering. The
// client, still sending, reads the whole reply and then EOF (not a
// reset); the server drops the rest of the upload (counted) and closes
// cleanly once the client's FIN comes.
func TestCloseLingeringReplyReachesAnUploader(t *testing.T) {
	t.Parallel()
	const upload = 10 << 20
	h := &rejecter{reply: pattern(256 << 10), after: make(chan error, 4), closed: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10),
		WithLingerTimeout(30*time.Second)) // the FIN, not the timeout, ends it
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(make([]byte, upload))
		if err == nil {
			err = c.CloseWrite()
		}
		wrote <- err
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, h.reply) {
		t.Fatalf("read %d bytes of a %d-byte reply, then %v", len(got), len(h.reply), err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the upload failed: %v", err)
	}
	if err := <-h.closed; err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}
	h.expectLateWritesFailed(t)
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.Total() == 1 })
	st := s.Stats().Total
	t.Logf("%d bytes dropped while lingering", st.LingerDropped)
	if st.LingerDropped == 0 || st.LingerDropped > upload {
		t.Fatalf("LingerDropped = %d of a %d-byte upload", st.LingerDropped, upload)
	}
	if st.Closed.Clean != 1 {
		t.Fatalf("close counts %+v, want one clean close", st.Closed)
	}
}

// TestCloseLingeringTimeout: a client that reads the reply but never
// shuts its side is closed once the linger timeout has passed, not
// before, and not much later; meanwhile the loop waits rather than spins.
func TestCloseLingeringTimeout(t *testing.T) {
	const linger = 300 * time.Millisecond
	h := &rejecter{reply: []byte("400 no\n"), after: make(chan error, 4), closed: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(1), WithLingerTimeout(linger))
	c := dial(t, s)
	c.Write([]byte("bad request"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c) // the reply, then our FIN
	if err != nil || !bytes.Equal(got, h.reply) {
		t.Fatalf("read %q, %v; want the reply, then EOF", got, err)
	}
	c.Write([]byte("more")) // dropped, and it does not end the lingering
	cpu := processCPU()
	if err := recv(t, h.closed, "the close at the linger timeout"); err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}
	cpu = processCPU() - cpu
	el := time.Duration(h.closedAt.Load() - h.lingering.Load())
	if cpu > linger/2 {
		t.Fatalf("the process used %v of CPU while the connection lingered for %v: a spinning loop", cpu, linger)
	}
	t.Logf("closed %v after CloseLingering (timeout %v), %v of CPU meanwhile", el, linger, cpu)
	if el < linger {
		t.Fatalf("closed %v after CloseLingering, before the %v timeout", el, linger)
	}
	if el > linger+5*time.Second {
		t.Fatalf("closed %v after CloseLingering, long past the %v timeout", el, linger)
	}
	h.expectLateWritesFailed(t)
	waitFor(t, "the dropped bytes counted", func() bool { return s.Stats().Total.LingerDropped == 4 })
}

// bigErrLines answers a line too long for its codec with a large error
// reply, written in the callback that met the decode error; the
// connection then closes lingering, with the decode error.
func bigErrLines(reply []byte) *funcHandler {
	return &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		for {
			f, err := c.ReadFrame()
			if err != nil {
				if _, err := c.Write(reply); err != nil {
					panic(err)
				}
				return None
			}
			if f == nil {
				return None
			}
			c.WriteFrame(f)
		}
	}}
}

// TestDecodeErrorReplyReachesASender: a client sends a line far longer
// than the codec allows and keeps sending; the error reply written in
// the callback that met the decode error reaches it in full, then EOF,
// while it is still sending.
func TestDecodeErrorReplyReachesASender(t *testing.T) {
	t.Parallel()
	const upload = 10 << 20
	reply := pattern(256 << 10)
	h := bigErrLines(reply)
	s := serve(t, h, "", WithLoops(1), WithCodec(lines), WithSocketSendBuffer(16<<10),
		WithLingerTimeout(30*time.Second))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	expectWrite := func(p []byte) {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	expectWrite([]byte("ok\n"))
	expectRead(t, c, []byte("ok\n"))
	var sent atomic.Int64
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		chunk := bytes.Repeat([]byte("x"), 64<<10) // no newline: one endless line
		var err error
		for sent.Load() < upload && err == nil {
			var n int
			n, err = c.Write(chunk)
			sent.Add(int64(n))
		}
		if err == nil {
			err = c.CloseWrite()
		}
		wrote <- err
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, reply) {
		t.Fatalf("read %d bytes of a %d-byte error reply, then %v", len(got), len(reply), err)
	}
	if sent.Load() >= upload {
		t.Logf("the upload ended before the reply was read")
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the upload failed: %v", err)
	}
	err = recv(t, h.closeErrs, "the close after the client's FIN")
	if err == nil {
		t.Fatal("OnClose err = nil, want the decode error")
	}
	t.Logf("OnClose: %v", err)
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.Codec == 1 })
	if s.Stats().Total.LingerDropped == 0 {
		t.Fatal("nothing dropped while lingering")
	}
}
