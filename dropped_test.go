//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"io"
	"testing"
	"time"
)

// TestCloseCountsOutputItCouldNotSend: Close after a reply larger than
// the socket takes, to a client that is not reading, discards the rest
// of the reply — and says so in Stats.OutputDropped; a reply that all
// went out counts nothing.
func TestCloseCountsOutputItCouldNotSend(t *testing.T) {
	const size = 8 << 20
	h := &funcHandler{closeErrs: make(chan error, 2), traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		if string(b) == "big" {
			c.Write(make([]byte, size))
		} else {
			c.Write(b)
		}
		return Close
	}}
	s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(32<<10))

	// A small reply goes out whole before the close: nothing dropped.
	c := dial(t, s)
	c.Write([]byte("hi"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); string(b) != "hi" || err != nil {
		t.Fatalf("small reply: %q, %v", b, err)
	}
	recv(t, h.closeErrs, "the first close")
	if n := s.Stats().Total.OutputDropped; n != 0 {
		t.Fatalf("OutputDropped = %d after a reply that went out whole", n)
	}

	// A big one to a client that does not read: most of it is dropped,
	// and counted.
	c2 := dial(t, s)
	c2.(interface{ SetReadBuffer(int) error }).SetReadBuffer(32 << 10)
	c2.Write([]byte("big"))
	recv(t, h.closeErrs, "the second close")
	waitFor(t, "the dropped output to be counted", func() bool {
		return s.Stats().Total.OutputDropped > 0
	})
	st := s.Stats().Total
	if st.OutputDropped > size || st.OutboundPending != 0 {
		t.Fatalf("OutputDropped %d of a %d-byte reply, %d still pending", st.OutputDropped, size, st.OutboundPending)
	}
	t.Logf("dropped %d of %d bytes at close", st.OutputDropped, size)
}
