//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"

	"github.com/mill-io/mill/reactor"
)

// A graceful shutdown drains each loop before closing what is left:
// reading stops (no new work), new asynchronous writes and worker-pool
// tasks are refused with ErrServerClosed (except the answers of tasks
// already running), and a connection closes, with ErrServerClosed, as
// soon as it is quiet (checkDone): no queued output, no asynchronous
// write or Do submitted but not yet run or waiting for its bytes, and
// no worker-pool task in flight (lingering, if input arrived after
// reading stopped: a reset could destroy replies the peer has not read).
// A HandOff's drain also keeps connections that have sent nothing yet,
// reading, until DefaultHandOffGrace. The loop reports when it has no
// connection left. Shutdown's context bounds
// the whole drain; whatever remains when it ends is closed at once.

// drain runs the drain on every loop and waits until they are all empty
// or ctx ends. Serve's goroutine, after OnShutdown.
func (e *engine) drain(ctx context.Context) {
	e.draining.Store(true) // new asynchronous writes are refused from now on
	done := make(chan struct{}, len(e.loops))
	n := 0
	for _, l := range e.loops {
		if l.loop.Post(func() { l.beginDrain(done) }) == nil {
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
	if l.e.s.handOff.Load() {
		l.freshGrace = true
		l.loop.AfterFunc(DefaultHandOffGrace, func() {
			l.freshGrace = false
			l.drainAll() // those still silent close now
		})
	}
	l.drainAll()
}

// drainAll tells every member the drain is on, and reports to the drain
// if the loop is empty. Loop goroutine.
func (l *eventLoop) drainAll() {
	l.loop.Each(func(_ int, h reactor.Handler) bool {
		if m, ok := h.(member); ok {
			m.drainStarted()
		}
		return true
	})
	l.checkDrained()
}

// checkDrained tells the drain when the loop has no connection left.
// Loop goroutine.
func (l *eventLoop) checkDrained() {
	if l.drainDone != nil && l.loop.Registered() == 0 {
		l.drainDone <- struct{}{}
		l.drainDone = nil
	}
}
