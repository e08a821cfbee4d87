package milltest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// handler is the package's test handler: each callback logs an event and
// runs the function the test set for it, if any. It implements the
// optional HalfCloseHandler and WritabilityHandler.
type handler struct {
	mill.BuiltinHandler
	open      func(c mill.Conn) ([]byte, mill.Action)
	traffic   func(c mill.Conn) mill.Action
	halfClose func(c mill.Conn) mill.Action
	close     func(c mill.Conn, err error) mill.Action
	events    []string
}

func (h *handler) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	h.events = append(h.events, "open")
	if h.open != nil {
		return h.open(c)
	}
	return nil, mill.None
}

func (h *handler) OnTraffic(c mill.Conn) mill.Action {
	h.events = append(h.events, fmt.Sprintf("traffic %d", c.InboundBuffered()))
	if h.traffic != nil {
		return h.traffic(c)
	}
	return mill.None
}

func (h *handler) OnHalfClose(c mill.Conn) mill.Action {
	h.events = append(h.events, "halfclose")
	if h.halfClose != nil {
		return h.halfClose(c)
	}
	return mill.None
}

func (h *handler) OnClose(c mill.Conn, err error) mill.Action {
	h.events = append(h.events, fmt.Sprintf("close %v", err))
	if h.close != nil {
		return h.close(c, err)
	}
	return mill.None
}

func (h *handler) OnWritabilityChanged(_ mill.Conn, w bool) {
	h.events = append(h.events, fmt.Sprintf("writable %v", w))
}

// echo answers every byte it reads; it has no optional callbacks.
type echo struct{ mill.BuiltinHandler }

func (echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return mill.None
}

// events checks that h logged exactly want since the last call, and
// forgets them.
func (h *handler) expect(t *testing.T, want ...string) {
	t.Helper()
	if fmt.Sprint(h.events) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", h.events, want)
	}
	h.events = nil
}

// expectOutput checks that c's output since the last call is want.
func expectOutput(t *testing.T, c *Conn, want string) {
	t.Helper()
	if got := c.TakeOutput(); !bytes.Equal(got, []byte(want)) {
		t.Fatalf("output %q, want %q", got, want)
	}
}

// expectActions checks c's recorded actions.
func expectActions(t *testing.T, c *Conn, want ...mill.Action) {
	t.Helper()
	if got := c.Actions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

// mustPanic checks that f panics.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}
