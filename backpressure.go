//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

// Outbound: a connection's queued output (what the socket has not taken
// yet) is bounded. Crossing the high watermark makes it unwritable
// (Conn.Writable reports false, a WritabilityHandler is told) until the
// queue falls below the low watermark, so producers can pause; a write
// that would take the queue past the hard limit is refused whole, per
// the OverflowPolicy. Inbound: without a codec, unread input past the
// inbound limit stops reading until the handler consumes; with a codec,
// the codec's frame limit bounds it.

// admit checks that n more bytes fit the output queue's hard limit.
// Loop goroutine.
func (c *conn) admit(n int) error {
	o := &c.loop.e.s.opts
	if c.out.Len()+n <= o.outboundLimit {
		return nil
	}
	if o.overflow == CloseSlowConsumer {
		c.fail(ErrSlowConsumer)
		return ErrSlowConsumer
	}
	return ErrOutboundFull
}

// queued runs after output was added to the queue. Loop goroutine.
func (c *conn) queuedMore() {
	if c.out.Len() > c.loop.e.s.opts.highWatermark && c.shared.writable() {
		c.shared.set(sharedUnwritable)
		c.notifyWritability(false)
	}
}

// drainedSome runs after the socket took output from the queue. Loop
// goroutine.
func (c *conn) drainedSome() {
	if !c.shared.writable() && c.out.Len() < c.loop.e.s.opts.lowWatermark {
		c.shared.clear(sharedUnwritable)
		c.notifyWritability(true)
	}
}

// notifyWritability tells a WritabilityHandler of a transition to w,
// from a loop task rather than from inside the Write that crossed the
// watermark. Every transition to unwritable is told, even if the queue
// has drained again by the time the task runs, and is followed by its
// transition back: the handler hears false and true in pairs, in order,
// and never true without a false before it. Loop goroutine.
func (c *conn) notifyWritability(w bool) {
	wh, ok := c.loop.h.(WritabilityHandler)
	if !ok {
		return
	}
	c.loop.loop.Submit(func() {
		told := c.flags&flagToldUnwritable == 0 // what the handler believes
		if c.flags&flagClosed != 0 || told == w || w && !c.shared.writable() {
			return // nothing new, or a later task will tell
		}
		c.flags ^= flagToldUnwritable
		was := c.flags & flagInCallback
		c.flags |= flagInCallback
		c.onWritability(wh, w)
		c.flags = c.flags&^flagInCallback | was
		if was == 0 {
			c.settle()
		}
		c.closeIfFailed()
	})
}

func (c *conn) onWritability(wh WritabilityHandler, w bool) {
	defer func() {
		if v := recover(); v != nil {
			c.fail(c.loop.e.recovered("OnWritabilityChanged", v, stack()))
		}
	}()
	wh.OnWritabilityChanged(c, w)
}

// Writable reports whether queued output is below the high watermark
// (or has fallen back below the low one). Any goroutine.
func (c *conn) Writable() bool { return c.shared.writable() }

// checkInbound pauses reading while unread input is past the inbound
// limit (connections without a codec only) and resumes it below. Loop
// goroutine, between callbacks.
func (c *conn) checkInbound() {
	limit := c.loop.e.s.opts.inboundLimit
	paused := c.flags&flagReadPaused != 0
	over := c.codec == nil && c.in.Len() > limit
	if over != paused {
		c.flags ^= flagReadPaused
		c.updateInterest()
	}
}
