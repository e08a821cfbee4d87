package milltest

import (
	"errors"
	"testing"

	"github.com/mill-io/mill"
)

func TestOpen(t *testing.T) {
	h := &handler{open: func(c mill.Conn) ([]byte, mill.Action) {
		c.Write([]byte("first "))
		return []byte("hello " + c.RemoteAddr().String()), mill.None
	}}
	hs := NewHarness(h)
	c := hs.Open()
	h.expect(t, "open")
	expectActions(t, c, mill.None)
	if w := c.Written(); len(w) != 2 || string(w[1]) != "hello 127.0.0.1:50000" {
		t.Fatalf("Written %q: want OnOpen's write, then its returned bytes", w)
	}
	expectOutput(t, c, "first hello 127.0.0.1:50000")
	if c.Closed() {
		t.Fatal("closed after OnOpen")
	}
	mustPanic(t, "a second OpenConn", func() { hs.OpenConn(c) })
	mustPanic(t, "Traffic on another Harness's Conn", func() { NewHarness(echo{}).Traffic(c, nil) })
	mustPanic(t, "Traffic on a Conn never opened", func() { hs.Traffic(NewConn(), nil) })

	// OpenConn takes a Conn set up first; returning Close closes it after
	// the returned bytes are written.
	h = &handler{open: func(c mill.Conn) ([]byte, mill.Action) {
		return []byte("busy\n"), mill.Close
	}}
	c = NewConn()
	c.SetRemoteAddr(nil)
	NewHarness(h).OpenConn(c)
	h.expect(t, "open", "close <nil>")
	expectActions(t, c, mill.Close, mill.None)
	expectOutput(t, c, "busy\n")
	if !c.Closed() {
		t.Fatal("not closed after OnOpen returned Close")
	}
}

func TestTraffic(t *testing.T) {
	hs := NewHarness(echo{})
	c := hs.Open()
	if a := hs.Traffic(c, []byte("ping")); a != mill.None {
		t.Fatalf("Traffic returned %v", a)
	}
	expectOutput(t, c, "ping")
	hs.Traffic(c, []byte("pong"))
	expectOutput(t, c, "pong")
	expectActions(t, c, mill.None, mill.None, mill.None)
}

// A handler that closes in OnTraffic, by its action or by Close, can
// still write in that callback; OnClose runs before Traffic returns, and
// later Traffic runs nothing.
func TestCloseFromTraffic(t *testing.T) {
	for _, how := range []string{"action", "Close", "CloseLingering"} {
		t.Run(how, func(t *testing.T) {
			var closeErr error
			h := &handler{traffic: func(c mill.Conn) mill.Action {
				switch how {
				case "action":
					c.Write([]byte("bye"))
					return mill.Close
				case "Close":
					closeErr = c.Close()
				case "CloseLingering":
					closeErr = c.CloseLingering()
				}
				c.Write([]byte("bye")) // the close waits for the callback to return
				return mill.None
			}}
			hs := NewHarness(h)
			c := hs.Open()
			hs.Traffic(c, []byte("quit"))
			if closeErr != nil {
				t.Fatal(closeErr)
			}
			if how != "action" {
				// A Close call is queued work, as in mill.
				h.expect(t, "open", "traffic 4")
				if !c.Closed() {
					t.Fatal("Close not recorded")
				}
				if a := hs.Traffic(c, []byte("more")); a != mill.None {
					t.Fatalf("Traffic while closing returned %v", a)
				}
				c.RunPending()
				h.expect(t, "close <nil>")
			} else {
				h.expect(t, "open", "traffic 4", "close <nil>")
			}
			expectOutput(t, c, "bye")
			if !c.Closed() || c.Lingering() != (how == "CloseLingering") {
				t.Fatalf("Closed %v, Lingering %v", c.Closed(), c.Lingering())
			}
			if a := hs.Traffic(c, []byte("more")); a != mill.None {
				t.Fatalf("Traffic after close returned %v", a)
			}
			if a := hs.Close(c, errors.New("late")); a != mill.None {
				t.Fatalf("Close after close returned %v", a)
			}
			h.expect(t) // OnClose ran once
			if c.InboundBuffered() != 0 && how == "CloseLingering" {
				t.Fatal("a lingering close kept the unread input")
			}
		})
	}
}

func TestHarnessClose(t *testing.T) {
	h := &handler{close: func(c mill.Conn, err error) mill.Action {
		b, _ := c.Next(-1) // unread input is still readable in OnClose
		if string(b) != "left" {
			panic("OnClose read " + string(b))
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, mill.ErrClosed) {
			panic("a write in OnClose did not fail with ErrClosed")
		}
		return mill.Shutdown
	}}
	h.traffic = func(mill.Conn) mill.Action { return mill.None }
	hs := NewHarness(h)
	c := hs.Open()
	hs.Traffic(c, []byte("left"))
	if a := hs.Close(c, mill.ErrIdleTimeout); a != mill.Shutdown {
		t.Fatalf("Close returned %v, want OnClose's Shutdown", a)
	}
	h.expect(t, "open", "traffic 4", "close "+mill.ErrIdleTimeout.Error())
	expectActions(t, c, mill.None, mill.None, mill.Shutdown)
	if !errors.Is(c.CloseErr(), mill.ErrIdleTimeout) {
		t.Fatalf("CloseErr %v", c.CloseErr())
	}
	if err := c.Close(); !errors.Is(err, mill.ErrClosed) {
		t.Fatalf("Close after Harness.Close: %v", err)
	}
}

// CloseWrite in a callback takes effect when it returns; with the peer's
// FIN (HalfClose) the connection closes once both sides are shut.
func TestHalfClose(t *testing.T) {
	var errs []error
	h := &handler{halfClose: func(c mill.Conn) mill.Action {
		_, err := c.Write([]byte("last words"))
		errs = append(errs, err, c.CloseWrite())
		_, err = c.Write([]byte(" and more"))
		errs = append(errs, err)
		return mill.None
	}}
	hs := NewHarness(h)
	c := hs.Open()
	c.SetSocketFull(true)
	hs.HalfClose(c)
	if len(errs) != 3 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("errors %v: want writes to succeed until CloseWrite takes effect", errs)
	}
	c.RunPending()
	if _, err := c.Write([]byte("x")); !errors.Is(err, mill.ErrClosed) {
		t.Fatalf("write after CloseWrite took effect: %v", err)
	}
	h.expect(t, "open", "halfclose")
	if c.Closed() {
		t.Fatal("closed while output is still queued")
	}
	if a := hs.Traffic(c, []byte("after FIN")); a != mill.None {
		t.Fatalf("Traffic after the peer's FIN: %v", a)
	}
	c.SetSocketFull(false) // the queue drains, our FIN goes: both sides shut
	h.expect(t, "close <nil>")
	if !c.Closed() || !c.CloseWriteCalled() {
		t.Fatalf("Closed %v, CloseWriteCalled %v", c.Closed(), c.CloseWriteCalled())
	}
	expectOutput(t, c, "last words and more")

	// CloseWrite first, then the peer's FIN, with a handler that has no
	// OnHalfClose.
	for _, first := range []bool{true, false} {
		hs = NewHarness(echo{})
		c = hs.Open()
		c.CloseWrite()
		if first {
			c.RunPending()
		}
		if a := hs.HalfClose(c); a != mill.None {
			t.Fatalf("HalfClose returned %v", a)
		}
		c.RunPending()
		if !c.Closed() {
			t.Fatalf("not closed with both sides shut (CloseWrite effective first: %v)", first)
		}
	}

	// The peer's FIN with no CloseWrite leaves the connection open for
	// writing.
	h = &handler{}
	hs = NewHarness(h)
	c = hs.Open()
	hs.HalfClose(c)
	if c.Closed() {
		t.Fatal("closed by the peer's FIN alone")
	}
	if _, err := c.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	hs.HalfClose(c) // a second FIN is nothing
	h.expect(t, "open", "halfclose")
}

// A slow consumer doomed in OnOpen: the returned bytes are not written.
func TestOpenDoomed(t *testing.T) {
	h := &handler{open: func(c mill.Conn) ([]byte, mill.Action) {
		c.Write(make([]byte, 10))
		return []byte("greeting"), mill.None
	}}
	c := NewConn()
	c.SetOutboundLimit(5, mill.CloseSlowConsumer)
	NewHarness(h).OpenConn(c)
	h.expect(t, "open", "close "+mill.ErrSlowConsumer.Error())
	if len(c.Output()) != 0 {
		t.Fatalf("output %q from a doomed OnOpen", c.Output())
	}
}
