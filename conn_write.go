//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
)

// Write sends p now, queueing what the socket does not take (with
// WithWriteBatching, inside a callback it queues p to go out at the end
// of the loop iteration). Loop goroutine only; p is not retained.
func (c *conn) Write(p []byte) (int, error) {
	if err := c.writeErr(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.admit(len(p)); err != nil {
		return 0, err
	}
	if c.isTLS() {
		return c.writeTLS(p, nil, len(p))
	}
	if c.out.Len() > 0 || len(p) < batchDirect && c.batch(len(p)) {
		c.out.queue(p)
		c.queued(len(p))
		return len(p), nil
	}
	return c.send(p)
}

// send writes p to the socket now, the queue being empty, and queues
// (copied) what the socket does not take. A socket error fails the
// conn and is returned, with nothing of p accepted. Loop goroutine.
func (c *conn) send(p []byte) (int, error) {
	n, err := c.writeNow(p)
	if err != nil {
		c.fail(err)
		return 0, err
	}
	if n < len(p) {
		c.loop.ctr.outPending.Add(int64(len(p) - n))
		c.out.queue(p[n:])
		c.queuedMore()
		c.outputState()
		c.updateInterest()
	}
	return len(p), nil
}

// writeNow makes one write of p, the queue being empty, and accounts
// for what the socket took; it runs no handler code and changes no
// state but the counters. A full socket is not an error. Loop
// goroutine.
func (c *conn) writeNow(p []byte) (int, error) {
	var n int
	var err error
	for {
		n, err = socket.Write(c.fd, p)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EAGAIN {
		return 0, os.NewSyscallError("write", err)
	}
	c.out.sentDirect(n)
	if n > 0 {
		c.activity()
		c.sentBytes(n)
	}
	return n, nil
}

// Writev sends the buffers now with one writev, queueing what the socket
// does not take. Loop goroutine only; bs is not retained.
func (c *conn) Writev(bs [][]byte) (int, error) {
	if err := c.writeErr(); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	if err := c.admit(total); err != nil {
		return 0, err
	}
	if c.isTLS() {
		return c.writeTLS(nil, bs, total)
	}
	if c.out.Len() > 0 || total < batchDirect && c.batch(total) {
		for _, b := range bs {
			c.out.queue(b)
		}
		c.queued(total)
		return total, nil
	}
	var n int
	var err error
	for {
		n, err = c.loop.vec.Writev(c.fd, bs)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EAGAIN {
		err = os.NewSyscallError("writev", err)
		c.fail(err)
		return 0, err
	}
	c.out.sentDirect(n)
	if n > 0 {
		c.activity()
		c.sentBytes(n)
	}
	if n < total {
		c.loop.ctr.outPending.Add(int64(total - n))
		for _, b := range bs {
			if n >= len(b) {
				n -= len(b)
				continue
			}
			c.out.queue(b[n:])
			n = 0
		}
		c.queuedMore()
		c.outputState()
		c.updateInterest()
	}
	return total, nil
}

// Flush tries to send queued output now. Loop goroutine only.
func (c *conn) Flush() error {
	if err := c.writeErr(); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		c.fail(err)
		return err
	}
	return nil
}

// OutboundBuffered is the number of queued output bytes. Loop goroutine
// only.
func (c *conn) OutboundBuffered() int { return c.out.Len() }

// flush writes queued output until the socket is full or the queue is
// empty, runs the callbacks of asynchronous writes that are now done, and
// arms or disarms write interest to match. Loop goroutine.
func (c *conn) flush() error {
	l := c.loop
	for c.out.Len() > 0 {
		l.iov[0], l.iov[1] = c.out.Peek()
		n, err := l.vec.Writev(c.fd, l.iov[:])
		want := len(l.iov[0]) + len(l.iov[1])
		l.iov[0], l.iov[1] = nil, nil
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return os.NewSyscallError("writev", err)
		}
		c.out.took(n)
		c.activity()
		c.sentBytes(n)
		l.ctr.outPending.Add(-int64(n))
		if n < want {
			break
		}
	}
	c.outputShrank()
	c.fireDone()
	c.outputState() // output left over starts the write timeout (a batch's first flush)
	c.updateInterest()
	return nil
}

// fireDone runs, in order, the callbacks of asynchronous writes whose
// bytes have all been handed to the kernel. They run as one callback
// bracket, so that a failure one of them causes closes the conn only
// after the last (whose bytes went too) has heard nil; the caller
// (sendQueued, or the callback around a Write) then applies it. Loop
// goroutine.
func (c *conn) fireDone() {
	if !c.due() {
		return
	}
	nested := c.enterCallback()
	for c.due() {
		c.call(c.next(), nil)
	}
	c.leaveCallback(nested)
	if !nested {
		c.settle() // the callbacks may have consumed input
	}
}

// call runs an asynchronous-write callback as handler code. Loop
// goroutine.
func (c *conn) call(cb AsyncCallback, err error) {
	if cb != nil {
		c.run("AsyncCallback", func() Action { cb(c, err); return None })
	}
}

// AsyncWrite writes p on the connection's loop. Any goroutine.
func (c *conn) AsyncWrite(p []byte, cb AsyncCallback) error {
	if err := c.refuseInDrain(cb); err != nil {
		return err
	}
	return c.submitWrite(func() { c.asyncWrite(p, nil, cb); c.wrote() }, cb)
}

// AsyncWritev writes bs on the connection's loop. Any goroutine.
func (c *conn) AsyncWritev(bs [][]byte, cb AsyncCallback) error {
	if err := c.refuseInDrain(cb); err != nil {
		return err
	}
	return c.submitWrite(func() { c.asyncWrite(nil, bs, cb); c.wrote() }, cb)
}

// refuseInDrain refuses an asynchronous write once a graceful drain has
// begun, so that producers that keep writing cannot hold the shutdown
// up: cb hears ErrServerClosed at once, on the calling goroutine. The
// answers of worker-pool tasks already running for c still go out (they
// are what the drain waits for). Any goroutine.
func (c *conn) refuseInDrain(cb AsyncCallback) error {
	if !c.loop.e.draining.Load() || c.tasks.Load() > 0 || c.shared.closing() {
		return nil // a closed conn refuses the write as always, with ErrClosed
	}
	if cb != nil {
		cb(c, ErrServerClosed)
	}
	return ErrServerClosed
}

// submitWrite queues an asynchronous write's loop side, which must end
// by calling wrote, and counts it as in flight until then. Any goroutine.
func (c *conn) submitWrite(task func(), cb AsyncCallback) error {
	c.inflight.Add(1)
	if c.loop.loop.Post(task) != nil {
		c.inflight.Add(-1)
		if cb != nil {
			cb(c, ErrClosed)
		}
		return ErrClosed
	}
	return nil
}

// Do runs fn on the connection's loop as a callback for c. Any
// goroutine.
func (c *conn) Do(fn func(Conn)) error {
	return c.submitWrite(func() {
		c.run("Do", func() Action { fn(c); return None })
		c.wrote()
	}, nil)
}

// wrote ends an asynchronous write's loop side (or a Do's, or a
// writability notice's). Loop goroutine.
func (c *conn) wrote() {
	if c.inflight.Add(-1) == 0 {
		c.checkDone() // a drain or the peer's FIN may be waiting for it
	}
}

// asyncWrite is the loop side of AsyncWrite and AsyncWritev.
func (c *conn) asyncWrite(p []byte, bs [][]byte, cb AsyncCallback) {
	var err error
	if bs != nil {
		_, err = c.Writev(bs)
	} else {
		_, err = c.Write(p)
	}
	c.asyncDone(cb, err)
}

// asyncDone reports an asynchronous write's outcome: its error, or nil
// now if every byte went to the kernel, or nil later, when the queue has
// drained past it. Loop goroutine.
func (c *conn) asyncDone(cb AsyncCallback, err error) {
	switch {
	case cb == nil:
	case err != nil:
		c.call(cb, err)
	case c.out.Len() == 0:
		c.call(cb, nil)
	default:
		c.await(cb)
	}
}

// await queues cb to run once every byte accepted so far has been handed
// to the kernel. Loop goroutine.
func (c *conn) await(cb AsyncCallback) {
	c.slowPart().wait.add(c.out.accepted(), cb)
}
