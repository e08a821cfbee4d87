package main

import (
	"sync/atomic"
	"time"
)

// dateLayout is IMF-fixdate, the Date header's format (RFC 9110 §5.6.7).
const dateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// clock holds the Date header value. OnTick refreshes it on the main
// loop; every loop reads it with one atomic load, so no request formats
// a time.
type clock struct {
	v    atomic.Pointer[[]byte]
	last int64 // Unix second of v; touched only by set
}

// set formats now, if its second is not the one already held. Only one
// goroutine at a time may call set (the main loop, via OnTick).
func (c *clock) set(now time.Time) {
	sec := now.Unix()
	if sec == c.last && c.v.Load() != nil {
		return
	}
	c.last = sec
	b := now.UTC().AppendFormat(make([]byte, 0, len(dateLayout)), dateLayout)
	c.v.Store(&b)
}

// get returns the current value. Any goroutine; do not modify it.
func (c *clock) get() []byte { return *c.v.Load() }

// untilNextSecond is how long after now the wall clock's second changes,
// plus a millisecond so that a tick lands just after it.
func untilNextSecond(now time.Time) time.Duration {
	return time.Second - time.Duration(now.Nanosecond()) + time.Millisecond
}
