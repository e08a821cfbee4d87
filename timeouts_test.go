//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func expectClose(t *testing.T, errs chan error, want error, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := recvWithin(t, errs, within, fmt.Sprintf("OnClose with %v", want)); !errors.Is(err, want) {
		t.Fatalf("OnClose err = %v, want %v", err, want)
	}
	return time.Since(start)
}

func TestIdleTimeout(t *testing.T) {
	h := &upperLines{errs: make(chan error, 4)}
	s := serve(t, h, "", WithLoops(1), WithCodec(lines), WithIdleTimeout(150*time.Millisecond))
	dial(t, s) // stays idle
	busy := dial(t, s)
	// The busy client talks every 30 ms for 450 ms: three idle timeouts'
	// worth, never idle for one.
	for i := 0; i < 15; i++ {
		busy.Write([]byte("x\n"))
		expectRead(t, busy, []byte("X\n"))
		time.Sleep(30 * time.Millisecond)
	}
	expectClose(t, h.errs, ErrIdleTimeout, 5*time.Second) // the idle one, closed meanwhile
	busy.Write([]byte("still\n"))
	expectRead(t, busy, []byte("STILL\n"))
	expectClose(t, h.errs, ErrIdleTimeout, 5*time.Second) // the busy one, once it stops
}

func TestReadTimeoutStopsSlowloris(t *testing.T) {
	h := &upperLines{errs: make(chan error, 4)}
	s := serve(t, h, "", WithLoops(1), WithCodec(lines),
		WithIdleTimeout(10*time.Second), WithReadTimeout(200*time.Millisecond))
	// Whole lines, slowly: fine.
	polite := dial(t, s)
	for i := 0; i < 4; i++ {
		polite.Write([]byte("ok\n"))
		expectRead(t, polite, []byte("OK\n"))
		time.Sleep(100 * time.Millisecond)
	}
	// One byte every 20 ms of a line that never ends: idle never fires,
	// the read timeout does.
	slow := dial(t, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			if _, err := slow.Write([]byte("a")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	expectClose(t, h.errs, ErrReadTimeout, 5*time.Second)
	slow.Close()
	<-done
	polite.Write([]byte("after\n"))
	expectRead(t, polite, []byte("AFTER\n"))
}

func TestWriteTimeout(t *testing.T) {
	h := answer(make([]byte, 8<<20))
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(16<<10), WithWriteTimeout(150*time.Millisecond))
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	c.Write([]byte("go")) // and never read the 8 MiB answer
	expectClose(t, h.closeErrs, ErrWriteTimeout, 5*time.Second)
}

// perConn gives connections that say "short" a 100 ms idle timeout.
type perConn struct {
	upperLines
}

func (h *perConn) OnTraffic(c Conn) Action {
	if b, _ := c.Peek(-1); string(b) == "short\n" {
		c.Discard(-1)
		c.SetIdleTimeout(100 * time.Millisecond)
		return None
	}
	return h.upperLines.OnTraffic(c)
}

func TestPerConnectionTimeoutOverride(t *testing.T) {
	h := &perConn{upperLines{errs: make(chan error, 4)}}
	s := serve(t, h, "", WithLoops(1), WithCodec(lines)) // no server timeout
	long := dial(t, s)
	short := dial(t, s)
	short.Write([]byte("short\n"))
	expectClose(t, h.errs, ErrIdleTimeout, 5*time.Second)
	long.Write([]byte("alive\n"))
	expectRead(t, long, []byte("ALIVE\n"))
}
