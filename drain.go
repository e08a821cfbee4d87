//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"

	"github.com/mill-io/mill/reactor"
)

// A graceful shutdown drains each loop before closing what is left:
// reading stops (no new work), and a connection closes, with
// ErrServerClosed, as soon as it has no queued output, no asynchronous
// write submitted but not yet run or waiting for its bytes, and no
// worker-pool task in flight. The
// loop reports when it has no connection left. Shutdown's context bounds
// the whole drain; whatever remains when it ends is closed at once.

// drain runs the drain on every loop and waits until they are all empty
// or ctx ends. Serve's goroutine, after OnShutdown.
func (e *engine) drain(ctx context.Context) {
	done := make(chan struct{}, len(e.loops))
	n := 0
	for _, l := range e.loops {
		if l.loop.Submit(func() { l.beginDrain(done) }) == nil {
			n++
		}
	}
	for ; n > 0; n-- {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}

// beginDrain puts the loop in drain mode and closes what it can. Loop
// goroutine.
func (l *eventLoop) beginDrain(done chan<- struct{}) {
	l.draining, l.drainDone = true, done
	l.loop.Each(func(_ int, h reactor.Handler) bool {
		switch h := h.(type) {
		case *conn:
			h.drainCheck()
		case *dialing:
			h.fail(ErrServerClosed)
		case *packetConn:
			h.drainCheck()
		}
		return true
	})
	l.checkDrained()
}

// drainCheck closes c if a drain is on and c has nothing in flight, and
// otherwise stops reading it. Loop goroutine.
func (c *conn) drainCheck() {
	if !c.loop.draining || c.flags&flagClosed != 0 {
		return
	}
	if c.out.Len() == 0 && c.inflight.Load() == 0 && (c.slow == nil || len(c.slow.cbs) == 0) {
		c.closeNow(ErrServerClosed)
		return
	}
	c.updateInterest()
}

// checkDrained tells the drain when the loop has no connection left.
// Loop goroutine.
func (l *eventLoop) checkDrained() {
	if l.drainDone != nil && l.loop.Registered() == 0 {
		l.drainDone <- struct{}{}
		l.drainDone = nil
	}
}
