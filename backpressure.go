//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import "go.uber.org/zap"

// Outbound: a connection's queued output (what the socket has not taken
// yet) is bounded. Crossing the high watermark makes it unwritable
// (Conn.Writable reports false, a WritabilityHandler is told) and, with
// flow control (the default), stops reading it, until the queue falls
// below the low watermark: a handler that answers what it reads cannot
// queue much past the high watermark, and TCP pushes back on a peer that
// sends faster than it reads. A write that would take the queue past the
// hard limit (or the server's total past WithTotalOutboundLimit) is
// refused whole, per the OverflowPolicy, and never silently: the
// connection closes with ErrSlowConsumer, or the write fails with
// ErrOutboundFull and is counted; both are logged, at most once a second.
//
// Inbound: without a codec, unread input past the inbound limit stops
// reading until the handler consumes; if nothing is left that could
// consume it (see checkDone), the connection closes with
// ErrInboundLimit. With a codec, the codec's frame limit bounds it.

// admit checks that n more bytes fit the output queue's hard limit and
// the server's total. Loop goroutine.
func (c *conn) admit(n int) error {
	o := c.loop.set
	q := c.out.Len()
	over := q+n > o.outboundLimit
	if !over && o.totalOutbound > 0 && q > 0 {
		// Only a connection that already has output waiting counts
		// against the total: one whose peer keeps up is not held
		// responsible for those that do not.
		over = c.loop.e.outPending()+int64(n) > int64(o.totalOutbound)
	}
	if !over {
		return nil
	}
	e := c.loop.e
	if o.overflow == CloseSlowConsumer {
		if ok, dropped := e.overflowLog.allow(); ok {
			e.log.Warn("closing slow consumer: queued output would pass its limit",
				zap.Stringer("remote", c.RemoteAddr()), zap.Int("queued", q), zap.Int("write", n),
				zap.Int("limit", o.outboundLimit), zap.Int("totalLimit", o.totalOutbound),
				zap.Uint64("alsoSinceLastLog", dropped))
		}
		c.fail(ErrSlowConsumer)
		return ErrSlowConsumer
	}
	c.loop.ctr.refused.Add(1)
	if ok, dropped := e.overflowLog.allow(); ok {
		e.log.Warn("write refused: queued output would pass its limit (FailWrite)",
			zap.Stringer("remote", c.RemoteAddr()), zap.Int("queued", q), zap.Int("write", n),
			zap.Int("limit", o.outboundLimit), zap.Int("totalLimit", o.totalOutbound),
			zap.Uint64("alsoSinceLastLog", dropped))
	}
	return ErrOutboundFull
}

// queuedMore runs after output was added to the queue: past the high
// watermark the conn turns unwritable and, with flow control, stops
// reading. Loop goroutine.
func (c *conn) queuedMore() {
	o := c.loop.set
	if c.out.Len() <= o.highWatermark {
		return
	}
	if c.shared.writable() {
		c.shared.set(sharedUnwritable)
		c.notifyWritability(false)
	}
	if o.flowControl && c.setPause(pauseFlow, true) {
		c.loop.ctr.flowPauses.Add(1)
	}
}

// outputShrank runs after the socket took output from the queue: below
// the low watermark (or empty) the conn is writable again and reading
// resumes. Loop goroutine.
func (c *conn) outputShrank() {
	if n := c.out.Len(); n >= c.loop.set.lowWatermark && n > 0 {
		return
	}
	if !c.shared.writable() {
		c.shared.clear(sharedUnwritable)
		c.notifyWritability(true)
	}
	c.setPause(pauseFlow, false)
}

// notifyWritability tells a WritabilityHandler of a transition to w,
// from a loop task rather than from inside the Write that crossed the
// watermark. Every transition to unwritable is told, even if the queue
// has drained again by the time the task runs, and is followed by its
// transition back: the handler hears false and true in pairs, in order,
// and never true without a false before it. The task counts as work in
// flight, so that a peer's FIN or a drain does not close the conn
// before the handler has heard (and perhaps consumed held input). Loop
// goroutine.
func (c *conn) notifyWritability(w bool) {
	wh, ok := c.loop.h.(WritabilityHandler)
	if !ok {
		return
	}
	c.inflight.Add(1)
	err := c.loop.loop.Post(func() {
		defer c.wrote()
		if c.closed() || c.handlerThinksWritable() == w || w && !c.shared.writable() {
			return // nothing new, or a later task will tell
		}
		c.toldWritability(w)
		c.run("OnWritabilityChanged", func() Action { wh.OnWritabilityChanged(c, w); return None })
	})
	if err != nil {
		c.inflight.Add(-1)
	}
}

// Writable reports whether queued output is below the high watermark
// (or has fallen back below the low one). Any goroutine.
func (c *conn) Writable() bool { return c.shared.writable() }

// checkInbound pauses reading while unread input is past the inbound
// limit (connections without a codec only) and resumes it below. Loop
// goroutine, between callbacks.
func (c *conn) checkInbound() {
	c.setPause(pauseInbound, c.codec == nil && c.in.Len() > c.loop.set.inboundLimit)
}

// PauseReading stops reading c until ResumeReading. Loop goroutine only.
func (c *conn) PauseReading() error {
	if c.ending() {
		return ErrClosed
	}
	c.setPause(pauseHandler, true)
	return nil
}

// ResumeReading undoes PauseReading. Loop goroutine only.
func (c *conn) ResumeReading() error {
	if c.ending() {
		return ErrClosed
	}
	c.setPause(pauseHandler, false) // run's checkDone, after the callback, sees what follows
	return nil
}
