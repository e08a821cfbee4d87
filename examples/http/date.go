package main

import (
	"sync/atomic"
	"time"

	"github.com/mill-io/mill/http1"
)

// clock holds the Date header value, and the most common responses ready
// made with it. OnTick refreshes it on the first event loop; every loop reads it
// with one atomic load, so no request formats a time or a header.
type clock struct {
	v    atomic.Pointer[stamp]
	last int64 // Unix second of v; touched only by set
}

// stamp is what changes with the second: the Date value and the whole
// responses to an HTTP/1.1 keep-alive GET of /plaintext and /json.
type stamp struct {
	date            []byte
	plaintext, json []byte // head and body
	plainHead       int    // length of plaintext's head: the HEAD response
	jsonHead        int
}

// set formats now, if its second is not the one already held. Only one
// goroutine at a time may call set (the main loop, via OnTick).
func (c *clock) set(now time.Time) {
	sec := now.Unix()
	if sec == c.last && c.v.Load() != nil {
		return
	}
	c.last = sec
	st := &stamp{date: now.UTC().AppendFormat(make([]byte, 0, len(http1.DateLayout)), http1.DateLayout)}
	st.plaintext = appendHead(nil, st.date, 200, "", ctypePlaintext, len(plaintextBody), "")
	st.plainHead = len(st.plaintext)
	st.plaintext = append(st.plaintext, plaintextBody...)
	st.json = appendHead(nil, st.date, 200, "", ctypeJSON, len(jsonBody), "")
	st.jsonHead = len(st.json)
	st.json = append(st.json, jsonBody...)
	c.v.Store(st)
}

// get returns the current Date value. Any goroutine; do not modify it.
func (c *clock) get() []byte { return c.v.Load().date }

// stamp returns the current stamp. Any goroutine; do not modify it.
func (c *clock) stamp() *stamp { return c.v.Load() }

// untilNextSecond is how long after now the wall clock's second changes,
// plus a millisecond so that a tick lands just after it.
func untilNextSecond(now time.Time) time.Duration {
	return time.Second - time.Duration(now.Nanosecond()) + time.Millisecond
}
