//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

// One way into handler code. Every callback for a connection — OnOpen,
// OnTraffic, OnHalfClose, OnWritabilityChanged, OnClose, asynchronous-
// write callbacks, Do functions, and codec calls made outside them —
// runs through conn.run, and every Action a callback returns is applied
// by conn.apply: the bracket (mark the conn as in a callback, recover a
// panic, leave, settle the input, apply the Action, see whether the conn
// is done) is written once, here. UDP sockets and the engine's own
// callbacks (OnBoot, OnTick, OnShutdown) go through guard too.

// run runs fn as handler code for c and applies what it asks. A failure
// inside it (a write error, a decode error, a panic) dooms c, and c
// closes only once fn has returned. A run nested in another (a write
// callback fired by a Write inside OnTraffic) only runs fn: the
// outermost run settles and applies. Loop goroutine.
func (c *conn) run(where string, fn func() Action) Action {
	nested := c.enterCallback()
	a, pe := guard(c.loop.log, where, fn)
	if pe != nil {
		c.fail(pe)
	}
	c.leaveCallback(nested)
	if nested {
		return a
	}
	c.settle()
	c.apply(a)
	c.checkDone()
	return a
}

// apply carries out what handler code asked for, or what a failure
// during it decided: a doomed conn closes (lingering after a decode
// error), Close closes, Shutdown shuts the server down. The only place
// an Action is applied. Loop goroutine, outside handler code for c.
func (c *conn) apply(a Action) {
	switch {
	case c.doomed():
		c.closeDoomed()
	case a == Close:
		c.closeNow(nil)
	}
	if a == Shutdown {
		c.loop.shutdown()
	}
}

// safely runs handler code for a UDP socket: a panic in fn is logged and
// returned, and the loop carries on. Loop goroutine.
func (pc *packetConn) safely(where string, fn func()) *PanicError {
	_, pe := guard(pc.l.log, where, func() Action { fn(); return None })
	return pe
}
