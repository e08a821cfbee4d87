//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import "github.com/mill-io/mill/bufferpool"

// outbox is a connection's output bookkeeping: the queue of bytes
// accepted by a write but not yet handed to the kernel, how many bytes
// were ever handed to it, and the asynchronous-write callbacks that wait
// for their bytes to go. It does no I/O and knows nothing of limits,
// watermarks or timeouts (backpressure.go and timeouts.go look at Len):
// the connection writes what Peek shows and reports what the kernel took.
// Bytes accepted so far number sent + Len(); a callback waits for sent
// to reach that count as it was when the callback was added.
// outbox_test.go checks it against a plain model. Loop goroutine.
type outbox struct {
	q    bufferpool.Ring
	sent uint64     // bytes handed to the kernel, ever
	wait *waitQueue // callbacks waiting; nil until the first (most conns never have one)
}

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

// await adds cb, to be due once every byte accepted so far has been
// handed to the kernel.
func (o *outbox) await(cb AsyncCallback) {
	if o.wait == nil {
		o.wait = &waitQueue{}
	}
	o.wait.q = append(o.wait.q, pendingWrite{seq: o.sent + uint64(o.q.Len()), cb: cb})
}

// waiting reports whether a callback waits.
func (o *outbox) waiting() bool { return o.wait != nil && len(o.wait.q) > 0 }

// due reports whether the oldest waiting callback's bytes have all gone.
func (o *outbox) due() bool { return o.waiting() && o.wait.q[0].seq <= o.sent }

// next removes and returns the oldest waiting callback; call it only
// while due or when abandoning them all.
func (o *outbox) next() AsyncCallback {
	cb := o.wait.q[0].cb
	o.wait.q[0] = pendingWrite{}
	o.wait.q = o.wait.q[1:]
	if len(o.wait.q) == 0 {
		o.wait.q = nil
	}
	return cb
}

// release drops whatever is still queued and gives the buffer back; the
// callbacks still waiting are the caller's to fail (next, while
// waiting).
func (o *outbox) release() { o.q.Release() }
