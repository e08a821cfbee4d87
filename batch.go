//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

// Write batching (WithWriteBatching): output written by handler code is
// queued, and each connection's queue goes out with one writev once the
// loop has handled everything it woke up for, just before it polls
// again (reactor.Config.BeforeWait): several writes in one callback make
// one system call, and the replies to all the connections that were
// ready leave together, as redis-server sends them.
//
// While a conn waits, it is on its loop's batch list and batched()
// reports true, and its output queue is not empty although write interest may be
// off: the flush at the end of the iteration is what sends it.

// batchLimit is the most output a connection holds back: a write that
// takes its queue to this size sends the queue at once.
const batchLimit = 64 << 10

// batchDirect: a plaintext write this large, made while nothing waits
// in the queue, goes out at once (Write and Writev do not ask batch). It
// makes a system call of its own worth making, and coalescing it would
// cost a copy of every byte (a 16 KiB WebSocket echo took a third more
// CPU batched than sent at once). TLS records are encrypted into the
// queue anyway, so there batching costs no copy and keeps its rule.
const batchDirect = 8 << 10

// batch reports whether a write of n bytes, about to be made on a conn
// with an empty output queue, should wait for the end of the loop
// iteration, and if so puts the conn on the batch list. Loop goroutine.
func (c *conn) batch(n int) bool {
	l := c.loop
	if !l.batchWrites || !c.inCallback() || n >= batchLimit {
		return false
	}
	if !c.batched() {
		c.setBatched(true)
		l.batched = append(l.batched, c)
	}
	return true
}

// queued accounts for n bytes a write added to the output queue, to be
// sent when the socket takes them or at the end of the loop iteration.
// A batch that has grown to batchLimit goes out now (a failure closes the
// conn once the callback returns; the write itself was accepted), and
// the conn leaves the batch. Loop goroutine.
func (c *conn) queued(n int) {
	c.loop.ctr.outPending.Add(int64(n))
	c.queuedMore()
	if c.batched() && c.out.Len() >= batchLimit {
		// What the socket does not take now waits for write interest,
		// like any queued output, not for the end of the iteration.
		c.setBatched(false)
		if err := c.flush(); err != nil {
			c.fail(err)
		}
	}
}

// flushBatched sends the output of every conn on the batch list; it is
// the loop's BeforeWait. Handler code it runs (write callbacks, OnClose)
// may add conns to the list, which are sent in the same pass. Loop
// goroutine.
func (l *eventLoop) flushBatched() {
	for i := 0; i < len(l.batched); i++ {
		c := l.batched[i]
		l.batched[i] = nil
		if !c.batched() {
			continue
		}
		c.setBatched(false)
		if !c.closed() {
			c.sendQueued()
		}
	}
	l.batched = l.batched[:0]
}
