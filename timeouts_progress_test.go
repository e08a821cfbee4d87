//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// eatLines consumes whole lines and leaves a partial one unread.
func eatLines(c Conn) Action {
	b, _ := c.Peek(-1)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		c.Discard(i + 1)
	}
	return None
}

// TestReadTimeoutRestartsOnProgress: a client whose every write
// completes a line and starts the next one always has partial input
// waiting, yet makes progress, so the read timeout must not close it; a
// client that stops completing lines is closed with ErrReadTimeout.
func TestReadTimeoutRestartsOnProgress(t *testing.T) {
	const d = 150 * time.Millisecond
	h := &funcHandler{traffic: eatLines, closeErrs: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(1), WithReadTimeout(d))
	c := dial(t, s)
	if _, err := c.Write([]byte("par")); err != nil {
		t.Fatal(err)
	}
	// For 5 timeouts' worth, complete the line and start another every
	// d/5 (a steady stream, not an ordering).
	for end := time.Now().Add(5 * d); time.Now().Before(end); {
		if _, err := c.Write([]byte("tial\npar")); err != nil {
			t.Fatalf("write: %v (the server closed a client that makes progress)", err)
		}
		time.Sleep(d / 5)
	}
	select {
	case err := <-h.closeErrs:
		t.Fatalf("closed while making progress: %v", err)
	default:
	}
	// Now stall mid-line: the timeout must close it.
	if err := recvWithin(t, h.closeErrs, 10*d, "the read timeout to close a stalled partial line"); !errors.Is(err, ErrReadTimeout) {
		t.Fatalf("closed with %v, want ErrReadTimeout", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("after the timeout: %v", err)
	}
}
