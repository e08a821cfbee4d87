//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import "github.com/mill-io/mill/bufferpool"

// outbox is a connection's output bookkeeping: the queue of bytes
// accepted by a write but not yet handed to the kernel and how many bytes
// were ever handed to it; with its waitQueue (kept in connSlow, since
// most connections never have a callback waiting, and an idle
// connection's every byte counts), the asynchronous-write callbacks that
// wait for their bytes to go. Neither does I/O or knows of limits,
// watermarks or timeouts (backpressure.go and timeouts.go look at Len):
// the connection writes what Peek shows and reports what the kernel took.
// Bytes accepted so far number accepted(); a callback waits for sent to
// reach that count as it was when the callback was added.
// outbox_test.go checks the two against a plain model. Loop goroutine.
type outbox struct {
	q    bufferpool.Ring
	sent uint64 // bytes handed to the kernel, ever
}

// waitQueue holds the callbacks waiting for their bytes, oldest first.
type waitQueue struct{ q []pendingWrite }

type pendingWrite struct {
	seq uint64 // done once sent reaches it
	cb  AsyncCallback
}

// Init makes the queue take buffers of at least minCap from pool.
func (o *outbox) Init(pool *bufferpool.Pool, minCap int) { o.q.Init(pool, minCap) }

// Len is how many accepted bytes have not been handed to the kernel.
func (o *outbox) Len() int { return o.q.Len() }

// Cap is the capacity of the queue's buffer: 0 while it holds none.
func (o *outbox) Cap() int { return o.q.Cap() }

// queue adds p (copied) to the end of the queue.
func (o *outbox) queue(p []byte) { o.q.Write(p) }

// sentDirect records n bytes handed to the kernel without being queued,
// which a write may do only while the queue is empty.
func (o *outbox) sentDirect(n int) { o.sent += uint64(n) }

// Peek returns the queue's bytes, in order, as at most two slices; they
// stay valid until the next call that changes the outbox.
func (o *outbox) Peek() (head, tail []byte) { return o.q.Peek(-1) }

// took records that the kernel took the first n queued bytes. An empty
// queue gives its buffer back to the pool.
func (o *outbox) took(n int) {
	o.q.Discard(n)
	o.sent += uint64(n)
	if o.q.Len() == 0 {
		o.q.Release()
	}
}

// accepted is how many bytes were ever accepted: sent plus queued.
func (o *outbox) accepted() uint64 { return o.sent + uint64(o.q.Len()) }

// release drops whatever is still queued and gives the buffer back; the
// callbacks still waiting are the caller's to fail.
func (o *outbox) release() { o.q.Release() }

// add queues cb, due once sent reaches seq.
func (w *waitQueue) add(seq uint64, cb AsyncCallback) {
	w.q = append(w.q, pendingWrite{seq: seq, cb: cb})
}

// waiting reports whether a callback waits.
func (w *waitQueue) waiting() bool { return len(w.q) > 0 }

// due reports whether the oldest waiting callback's bytes have all gone,
// sent bytes having gone in all.
func (w *waitQueue) due(sent uint64) bool { return len(w.q) > 0 && w.q[0].seq <= sent }

// next removes and returns the oldest waiting callback; call it only
// while due, or to fail them all.
func (w *waitQueue) next() AsyncCallback {
	cb := w.q[0].cb
	w.q[0] = pendingWrite{}
	w.q = w.q[1:]
	if len(w.q) == 0 {
		w.q = nil
	}
	return cb
}
