package main

import (
	"strconv"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/codec"
)

// lines frames the protocol: one request or reply per line.
var lines = codec.Shared(codec.Must(codec.NewLine(codec.LineConfig{MaxLength: 1024})))

// Mode says where a request's blocking work runs.
type Mode int

const (
	// Pool runs it on the server's worker pool with Conn.Submit, keeping
	// each connection's replies in request order.
	Pool Mode = iota
	// Goroutine runs it on a new goroutine per request: the baseline.
	// Replies of one connection may come back in any order.
	Goroutine
	// Inline runs it on the event loop itself: what not to do.
	Inline
)

// handler answers "ping" at once, on the loop, and "work ID" after the
// blocking work (a call to work) with "done ID".
type handler struct {
	mill.BuiltinHandler
	mode Mode
	work func() // the blocking work; time.Sleep stands in for I/O
}

func newHandler(mode Mode, d time.Duration) *handler {
	return &handler{mode: mode, work: func() { time.Sleep(d) }}
}

func (h *handler) OnTraffic(c mill.Conn) mill.Action {
	for {
		f, err := c.ReadFrame()
		if f == nil || err != nil {
			return mill.None // need more input, or the connection is closing
		}
		if string(f) == "ping" {
			c.WriteFrame([]byte("pong"))
			continue
		}
		id, ok := workID(f)
		if !ok {
			c.WriteFrame([]byte("error: want ping or work ID"))
			continue
		}
		reply := strconv.AppendUint([]byte("done "), id, 10)
		task := func() {
			h.work()
			c.AsyncWriteFrame(reply, nil)
		}
		switch h.mode {
		case Pool:
			if err := c.Submit(task); err != nil {
				c.WriteFrame([]byte("busy")) // overloaded: shed, don't queue without bound
			}
		case Goroutine:
			go task()
		case Inline:
			h.work() // blocks every connection on this loop
			c.WriteFrame(reply)
		}
	}
}

// workID parses "work ID".
func workID(f []byte) (uint64, bool) {
	const prefix = "work "
	if len(f) <= len(prefix) || string(f[:len(prefix)]) != prefix {
		return 0, false
	}
	id, err := strconv.ParseUint(string(f[len(prefix):]), 10, 64)
	return id, err == nil
}
