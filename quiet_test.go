//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"errors"
	"testing"
	"time"
)

// TestQuietFunc: the func runs after each quiet period while the peer
// says nothing, input restarts the count, the func can close, and a
// panic in it closes with ErrHandlerPanic.
func TestQuietFunc(t *testing.T) {
	t.Parallel()
	const d = 40 * time.Millisecond
	calls := 0
	h := &funcHandler{closeErrs: make(chan error, 1)}
	h.open = func(c Conn) ([]byte, Action) {
		c.SetQuietFunc(d, func(c Conn) {
			calls++
			switch calls {
			case 1, 2, 3:
				c.Write([]byte{'q'})
			case 4:
				c.Write([]byte("bye\n"))
				c.Close()
			}
		})
		return nil, None
	}
	h.traffic = func(c Conn) Action {
		in, _ := c.Next(-1)
		c.Write(in)
		return None
	}
	s := serve(t, h, "tcp://127.0.0.1:0")
	nc := dial(t, s)
	r := bufio.NewReader(nc)
	start := time.Now()
	for i := 0; i < 2; i++ {
		if b, err := r.ReadByte(); err != nil || b != 'q' {
			t.Fatalf("call %d: read %q, %v", i+1, b, err)
		}
	}
	// The loop's clock is read once per iteration, so a call can come a
	// little before d of wall time has passed: allow a quarter period.
	if el := time.Since(start); el < 2*d-d/4 {
		t.Fatalf("two quiet calls after %v, want about %v", el, 2*d)
	}
	// Input restarts the count: the next call comes at least d after it.
	sent := time.Now()
	nc.Write([]byte{'x'})
	if b, _ := r.ReadByte(); b != 'x' {
		t.Fatalf("echo: %q", b)
	}
	if b, _ := r.ReadByte(); b != 'q' {
		t.Fatalf("third call: %q", b)
	}
	if el := time.Since(sent); el < d-d/4 {
		t.Fatalf("quiet call %v after input, want about %v", el, d)
	}
	line, err := r.ReadString('\n')
	if err != nil || line != "bye\n" {
		t.Fatalf("last call: %q, %v", line, err)
	}
	if err := recv(t, h.closeErrs, "OnClose"); err != nil {
		t.Fatalf("OnClose: %v", err)
	}
}

func TestQuietFuncPanicAndOff(t *testing.T) {
	t.Parallel()
	h := &funcHandler{closeErrs: make(chan error, 1)}
	h.open = func(c Conn) ([]byte, Action) {
		c.SetQuietFunc(5*time.Millisecond, func(Conn) { t.Error("a quiet func turned off ran") })
		c.SetQuietFunc(0, nil)
		return nil, None
	}
	h.traffic = func(c Conn) Action {
		c.Discard(-1)
		c.SetQuietFunc(10*time.Millisecond, func(Conn) { panic("quiet") })
		return None
	}
	s := serve(t, h, "tcp://127.0.0.1:0")
	nc := dial(t, s)
	// A window in which the func turned off would have run several times.
	time.Sleep(50 * time.Millisecond)
	nc.Write([]byte{'x'})
	if err := recv(t, h.closeErrs, "OnClose"); !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose: %v, want ErrHandlerPanic", err)
	}
}
