package milltest

import "github.com/mill-io/mill"

// Harness drives a mill.Handler over fake connections as a server's
// event loop would: it runs the handler's connection callbacks, one at a
// time, on the goroutine that calls its methods, applies the actions
// they return (mill.Close closes the connection; every action is
// recorded, see Conn.Actions), and runs OnClose once a connection it
// opened has closed, however it closed.
//
// Call a Harness's methods, and the Conn methods that run handler code
// (RunPending, Drain, SetSocketFull), from one goroutine at a time: mill
// never runs two callbacks for one connection at once, and a handler may
// rely on that. A Harness may drive any number of connections. OnBoot,
// OnShutdown and OnTick, which need a *mill.Server, are not run.
type Harness struct {
	handler mill.Handler
}

// NewHarness returns a Harness for h.
func NewHarness(h mill.Handler) *Harness { return &Harness{handler: h} }

// Open makes a connection with NewConn's defaults and opens it with
// OpenConn.
func (h *Harness) Open() *Conn { return h.OpenConn(NewConn()) }

// OpenConn opens c, which NewConn made and the test may have set up
// (addresses, codec, limits, input fed with Feed), as if the server had
// just accepted it: it runs OnOpen, writes the bytes OnOpen returns
// (see Conn.Written) unless a write during OnOpen doomed the connection,
// and applies OnOpen's action. It returns c. It panics if c was opened
// before.
func (h *Harness) OpenConn(c *Conn) *Conn {
	c.mu.Lock()
	if c.h != nil {
		c.mu.Unlock()
		panic("milltest: OpenConn: the Conn was opened before")
	}
	c.h = h
	c.depth++
	c.mu.Unlock()
	var out []byte
	a := c.guard(func() (a mill.Action) {
		out, a = h.handler.OnOpen(c)
		return a
	})
	c.record(a)
	c.mu.Lock()
	doomed := c.doomed
	c.mu.Unlock()
	if len(out) > 0 && !doomed {
		c.Write(out) // its failure, if any, dooms c as mill's does
	}
	c.end(a)
	return c
}

// check panics unless h opened c.
func (h *Harness) check(c *Conn, what string) {
	c.mu.Lock()
	ok := c.h == h
	c.mu.Unlock()
	if !ok {
		panic("milltest: " + what + ": the Conn was not opened by this Harness")
	}
}

// Traffic delivers p (copied) to c as bytes just read from the socket,
// and runs OnTraffic, returning its action; mill.Close closes c, which
// runs OnClose before Traffic returns. While reading is stopped (see
// Conn.PauseReading; with flow control, while c is unwritable) it holds p
// back, runs nothing and returns mill.None; the first Traffic once reading
// resumes delivers what was held back, followed by its own p, which may
// then be nil. Traffic runs nothing either when there is nothing new to
// deliver, or once c is closing, or after HalfClose (p is dropped).
func (h *Harness) Traffic(c *Conn, p []byte) mill.Action {
	h.check(c, "Traffic")
	c.mu.Lock()
	if c.closed || c.closeReq || c.peerEOF {
		c.mu.Unlock()
		return mill.None
	}
	c.held = append(c.held, p...)
	if c.paused || c.flowControl && c.unwritable || len(c.held) == 0 {
		c.mu.Unlock()
		return mill.None
	}
	c.expire()
	c.buf = append(c.buf, c.held...)
	c.held = nil
	c.depth++
	c.mu.Unlock()
	a := c.guard(func() mill.Action { return h.handler.OnTraffic(c) })
	c.record(a)
	c.end(a)
	return a
}

// HalfClose tells c that the peer shut its sending side, as a server
// created mill.WithHalfOpen(true) does: it runs OnHalfClose, if the
// handler is a mill.HalfCloseHandler, and returns its action (mill.None
// if not). Later Traffic delivers nothing. If CloseWrite has taken
// effect and the queued output has gone, both sides are shut and c
// closes (OnClose sees nil), now or once that happens. Without
// WithHalfOpen, mill closes the connection after the peer's FIN once
// nothing is pending for it: model that with RunPending and then
// Close(c, nil).
func (h *Harness) HalfClose(c *Conn) mill.Action {
	h.check(c, "HalfClose")
	c.mu.Lock()
	if c.closed || c.closeReq || c.peerEOF {
		c.mu.Unlock()
		return mill.None
	}
	c.peerEOF = true
	hc, ok := h.handler.(mill.HalfCloseHandler)
	if !ok {
		if c.finSent {
			c.closeLocked(nil)
		}
		c.unlock()
		return mill.None
	}
	c.depth++
	c.mu.Unlock()
	a := c.guard(func() mill.Action { return hc.OnHalfClose(c) })
	c.record(a)
	c.end(a)
	return a
}

// Close ends c for a reason outside the handler, such as the peer
// closing (err nil), a socket error, a timeout (mill.ErrIdleTimeout, say)
// or the server shutting down (mill.ErrServerClosed): the callbacks of
// asynchronous writes still waiting run with mill.ErrClosed, then OnClose
// runs with err, and Close returns its action. If c has closed already,
// it does nothing and returns mill.None: OnClose runs once per
// connection.
func (h *Harness) Close(c *Conn, err error) mill.Action {
	h.check(c, "Close")
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return mill.None
	}
	c.closeLocked(err)
	c.unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeAction
}
