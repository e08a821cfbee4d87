// Package mill is a multi-reactor networking framework.
//
// A main reactor accepts connections and hands each, through a load
// balancer, to one of N sub-reactors. Each sub-reactor is an event loop,
// one goroutine locked to an OS thread, running its own epoll (Linux) or
// kqueue (macOS, BSD) poller. A connection belongs to one loop for life;
// every callback for it runs on that loop, in order, so handler code
// needs no locks for per-connection state.
//
// Implement Handler (embed BuiltinHandler and override what you need) and
// start a server with Run, or with NewServer, Serve and Shutdown:
//
//	type echo struct{ mill.BuiltinHandler }
//
//	func (echo) OnTraffic(c mill.Conn) mill.Action {
//		b, _ := c.Next(-1)
//		if _, err := c.Write(b); err != nil {
//			return mill.Close
//		}
//		return mill.None
//	}
//
//	err := mill.Run(echo{}, "tcp://127.0.0.1:9000", mill.WithLoops(4))
//
// Callbacks must not block. Reads go into one buffer per loop; the bytes
// a handler leaves unread move into a pooled per-connection ring, which
// returns to the pool once drained, so idle connections hold no buffers.
// Writes go to the socket at once (unless WithWriteBatching holds them to
// the end of the loop iteration) and queue only what it does not take.
// Other goroutines write with Conn.AsyncWrite, which runs on the loop and
// reports the outcome exactly once. Nothing is lost without a word: while
// a connection's queued output is past its high watermark mill stops
// reading it (flow control), a write past the hard limit closes the
// connection with ErrSlowConsumer (or fails, counted, under FailWrite),
// and a peer's FIN never cuts short a reply still being worked on.
//
// The Conn documentation says which goroutine may call each method and
// how long returned slices stay valid. docs/architecture.md describes the
// design.
package mill
