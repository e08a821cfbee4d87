//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"time"

	"github.com/mill-io/mill/reactor"
)

// connTimer watches one connection's timeouts with a single loop timer
// set at the earliest deadline. Activity only stamps times (from the
// loop's per-iteration clock); when the timer fires it recomputes the
// deadline and either closes the connection or re-arms, so a busy
// connection costs one re-arm per timeout period, not one per event.
// Times are nanoseconds on the loop's clock; 0 means unset.
type connTimer struct {
	timer      *reactor.Timer
	at         int64 // when timer fires
	idle       time.Duration
	read       time.Duration
	write      time.Duration
	lastActive int64 // last byte read or handed to the kernel
	lastInput  int64 // last byte read, or the last quiet call (0: no quiet func)
	quiet      time.Duration
	quietFn    func(Conn)
	readSince  int64 // unread input has been buffered since
	writeSince int64 // output has been queued since
}

// mono is the loop clock, in nanoseconds since the loop's epoch.
func (l *eventLoop) mono() int64 { return int64(l.loop.Now().Sub(l.epoch)) + 1 }

// startTimeouts gives a new connection the server's timeouts, if any.
// Loop goroutine.
func (c *conn) startTimeouts() {
	o := c.loop.set
	if o.idleTimeout <= 0 && o.readTimeout <= 0 && o.writeTimeout <= 0 {
		return
	}
	c.tm = &connTimer{idle: o.idleTimeout, read: o.readTimeout, write: o.writeTimeout,
		lastActive: c.loop.mono()}
	c.rearm()
}

// due returns the earliest deadline being watched and the error it
// closes with, or 0.
func (t *connTimer) due() (int64, error) {
	var at int64
	var why error
	consider := func(since int64, d time.Duration, err error) {
		if since != 0 && d > 0 {
			if dl := since + int64(d); at == 0 || dl < at {
				at, why = dl, err
			}
		}
	}
	consider(t.lastActive, t.idle, ErrIdleTimeout)
	consider(t.readSince, t.read, ErrReadTimeout)
	consider(t.writeSince, t.write, ErrWriteTimeout)
	if t.quietFn != nil {
		consider(t.lastInput, t.quiet, errQuiet)
	}
	return at, why
}

// errQuiet is the "deadline" of a quiet func: when it is the one due,
// the timer calls the func instead of closing.
var errQuiet = errors.New("mill: quiet")

// rearm makes sure the timer fires no later than the earliest deadline.
// Loop goroutine.
func (c *conn) rearm() {
	t := c.tm
	at, _ := t.due()
	if at == 0 || (t.timer != nil && t.at <= at) {
		return // nothing to watch, or the timer fires early enough (and re-checks)
	}
	l := c.loop
	l.loop.StopTimer(t.timer)
	t.at = at
	t.timer = l.loop.AfterFunc(time.Duration(at-l.mono()), c.timerFired)
}

// timerFired closes the connection if a deadline has passed, or re-arms.
func (c *conn) timerFired() {
	t := c.tm
	t.timer = nil
	if c.closed() {
		return
	}
	at, why := t.due()
	if now := c.loop.mono(); at != 0 && now >= at {
		if why != errQuiet {
			c.closeNow(why)
			return
		}
		t.lastInput = now
		if !c.ending() {
			fn := t.quietFn
			c.run("quiet func", func() Action { fn(c); return None })
			if c.closed() {
				return
			}
		}
	}
	c.rearm()
}

// The hooks below keep the stamps current; each is a nil check when the
// connection has no timeouts.

func (c *conn) activity() {
	if c.tm != nil {
		c.tm.lastActive = c.loop.mono()
	}
}

// received is activity for bytes read: it also restarts the count of a
// quiet func.
func (c *conn) received() {
	if t := c.tm; t != nil {
		t.lastActive = c.loop.mono()
		if t.quietFn != nil {
			t.lastInput = t.lastActive
		}
	}
}

// inputState runs after input was settled (consumed: the handler took
// some since the last time) and when a pause starts or ends. The read
// timeout measures how long unread input waits without the handler
// making progress on it: it starts when input is left unread, restarts
// whenever the handler consumes some (a client that keeps completing
// requests, even one whose every write ends mid-request, is not a
// slowloris), and is off while the buffer is empty or mill itself holds
// reading off (flow control, the inbound limit, PauseReading), when the
// peer cannot be the one who is slow.
func (c *conn) inputState(consumed bool) {
	t := c.tm
	if t == nil {
		return
	}
	switch {
	case c.in.Len() == 0 || c.readStopped():
		t.readSince = 0
	case consumed || t.readSince == 0:
		t.readSince = c.loop.mono()
		c.rearm()
	}
}

// outputState runs when the output queue filled or drained.
func (c *conn) outputState() {
	t := c.tm
	if t == nil {
		return
	}
	if c.out.Len() == 0 {
		t.writeSince = 0
	} else if t.writeSince == 0 {
		t.writeSince = c.loop.mono()
		c.rearm()
	}
}

func (c *conn) stopTimeouts() {
	if c.tm != nil {
		c.loop.loop.StopTimer(c.tm.timer)
		c.tm.timer = nil
	}
}

// setTimeout changes one of the connection's timeouts. Loop goroutine.
func (c *conn) setTimeout(which *time.Duration, d time.Duration) {
	*which = d
	c.rearm()
}

func (c *conn) timer() *connTimer {
	if c.tm == nil {
		c.tm = &connTimer{lastActive: c.loop.mono()}
		c.inputState(false)
		c.outputState()
	}
	return c.tm
}

// SetQuietFunc runs fn after d without input, and after every further
// d without input (see Conn). Loop goroutine only.
func (c *conn) SetQuietFunc(d time.Duration, fn func(Conn)) {
	if (d <= 0 || fn == nil) && c.tm == nil {
		return // nothing to turn off
	}
	t := c.timer()
	if d <= 0 || fn == nil {
		t.quiet, t.quietFn, t.lastInput = 0, nil, 0
		return
	}
	t.quiet, t.quietFn, t.lastInput = d, fn, c.loop.mono()
	c.rearm()
}

// SetIdleTimeout overrides WithIdleTimeout for this connection; 0 turns
// it off. Loop goroutine only.
func (c *conn) SetIdleTimeout(d time.Duration) { c.setTimeout(&c.timer().idle, d) }

// SetReadTimeout overrides WithReadTimeout for this connection; 0 turns
// it off. Loop goroutine only.
func (c *conn) SetReadTimeout(d time.Duration) { c.setTimeout(&c.timer().read, d) }

// SetWriteTimeout overrides WithWriteTimeout for this connection; 0 turns
// it off. Loop goroutine only.
func (c *conn) SetWriteTimeout(d time.Duration) { c.setTimeout(&c.timer().write, d) }
