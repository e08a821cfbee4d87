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
		if err != nil {
			// A line over the codec's limit: say so. mill then closes the
			// connection, lingering so that the reply is read, not reset.
			_ = c.WriteFrame([]byte("error: line too long")) // closing either way
			return mill.None
		}
		if f == nil {
			return mill.None // need more input
		}
		if string(f) == "ping" {
			if c.WriteFrame([]byte("pong")) != nil {
				return mill.Close // broken, or closing as a slow consumer
			}
			continue
		}
		id, ok := workID(f)
		if !ok {
			if c.WriteFrame([]byte("error: want ping or work ID")) != nil {
				return mill.Close
			}
			continue
		}
		reply := strconv.AppendUint([]byte("done "), id, 10)
		task := func() {
			h.work()
			// The callback gets any error, also one AsyncWriteFrame
			// returns (then it has already run).
			_ = c.AsyncWriteFrame(reply, closeOnFail)
		}
		var werr error
		switch h.mode {
		case Pool:
			if c.Submit(task) != nil {
				// Overloaded: shed, don't queue without bound.
				werr = c.WriteFrame([]byte("busy"))
			}
		case Goroutine:
			go task()
		case Inline:
			h.work() // blocks every connection on this loop
			werr = c.WriteFrame(reply)
		}
		if werr != nil {
			return mill.Close
		}
	}
}

// closeOnFail closes a connection whose reply could not be written: it
// is broken or closing already (mill.ErrClosed, mill.ErrSlowConsumer),
// or the server is draining (mill.ErrServerClosed), and a client missing
// a reply must not wait for it on an open connection.
func closeOnFail(c mill.Conn, err error) {
	if err != nil {
		_ = c.Close() // ErrClosed: it was closed already
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
