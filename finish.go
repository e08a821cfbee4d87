//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
)

// When a connection ends by itself. A connection waiting on the peer's
// FIN, on a graceful drain, or on unread input stuck at the inbound limit
// closes only once nothing is left that could still write to it or run
// handler code for it: its queued output has gone to the kernel, and no
// asynchronous write, Do, worker-pool task or writability notice is in
// flight and no write callback waits (quiet). checkDone is called
// wherever one of those may have just become true.

// quiet reports whether nothing is pending for c. Loop goroutine.
func (c *conn) quiet() bool {
	return c.out.Len() == 0 && c.inflight.Load() == 0 && !c.waiting()
}

// checkDone closes c if it waits to end and has become quiet: with
// ErrServerClosed in a graceful drain (lingering if input arrived after
// reading stopped, so that the peer reads an end of stream rather than
// a reset; in a HandOff's drain, a conn that has sent nothing yet waits
// for its first input, until the grace ends; a conn awaiting its PROXY
// header or TLS handshake closes at once); cleanly after the peer's FIN
// (unless WithHalfOpen leaves closing to the handler, or the handler
// holds its input with PauseReading), with unread input still readable
// in OnClose; or with ErrInboundLimit when unread input is stuck at the
// inbound limit, since nothing can consume it any more. In a drain, a
// conn that is not quiet yet stops reading. Loop goroutine; inside
// handler code for c it does nothing (run calls it again afterwards).
func (c *conn) checkDone() {
	l := c.loop
	if c.preOpen() {
		// Only its header or handshake ends it, or a drain, which does
		// not wait for them; a HandOff's does, in its grace (their own
		// timeouts bound them), for it serves what it accepted last.
		if l.draining && !l.freshGrace {
			c.closeNow(ErrServerClosed)
		}
		return
	}
	if c.ending() || c.inCallback() || !c.peerEOF() && !c.inboundFull() && !l.draining {
		return
	}
	if !c.quiet() {
		if l.draining {
			c.updateInterest() // no new work: stop reading
		}
		return
	}
	switch {
	case l.draining && c.awaitsFirstInput() && !c.peerEOF():
		c.updateInterest() // a HandOff serves what it accepted last
	case l.draining && socket.Unread(c.fd) > 0:
		// Input came after reading stopped: closing now would make the
		// kernel reset the connection, and the peer could lose replies
		// it has not read yet. Close lingering instead: our FIN, then
		// input dropped until the peer's (within WithLingerTimeout).
		c.linger(ErrServerClosed)
	case l.draining:
		c.closeNow(ErrServerClosed)
	case c.handlerPaused():
		// The handler keeps its input on purpose and will resume.
	case c.peerEOF():
		if !l.set.halfOpen {
			c.closeNow(nil)
		}
	case c.inboundFull():
		c.closeNow(ErrInboundLimit)
	}
}

// A lingering close (CloseLingering, and a decode error's close) ends a
// connection without a reset that could destroy what was written last:
// closing a socket with unread input makes the kernel send RST, and a
// peer that receives it may discard our final reply before reading it.
// So: writes stop, queued output goes out, our FIN follows (shutWrite,
// from outputSent), and input is read and dropped until the peer's FIN or
// the linger timeout, which counts from the start; then the connection
// closes with the error it was closing with (nil for CloseLingering).

// CloseLingering closes the connection on its loop after a lingering
// close. Any goroutine.
func (c *conn) CloseLingering() error {
	if !c.shared.requestClose() {
		return ErrClosed
	}
	if c.loop.loop.Post(func() { c.linger(nil) }) != nil {
		return ErrClosed
	}
	return nil
}

// linger starts a lingering close that ends with err. Loop goroutine.
func (c *conn) linger(err error) {
	if !c.markLinger() {
		return
	}
	l := c.loop
	s := c.slowPart()
	s.closeErr = err
	c.view = nil
	c.in.Release() // what is left unread is dropped, like what arrives from now on
	c.inputState(false)
	if d := l.set.lingerTimeout; d > 0 {
		s.linger = l.loop.AfterFunc(d, func() {
			c.slow.linger = nil
			c.closeNow(c.slow.closeErr)
		})
	}
	if c.out.Len() == 0 {
		c.outputSent() // our FIN now; this closes c if the peer's came already
	}
	c.updateInterest()
}

// lingerRead reads and drops input while lingering, and closes on the
// peer's FIN or a read error. Loop goroutine.
func (c *conn) lingerRead() {
	l := c.loop
	n, err := c.readSocket()
	switch {
	case err == unix.EAGAIN:
	case err != nil:
		c.markPeerEOF()
		c.closeNow(c.slow.closeErr) // what was written had its chance
	case n == 0:
		// The peer's FIN: once our output has gone (and our FIN after
		// it), outputSent closes; the linger timeout still bounds it.
		c.markPeerEOF()
		if c.out.Len() == 0 {
			c.closeNow(c.slow.closeErr)
		} else {
			c.updateInterest()
		}
	default:
		c.activity()
		l.ctr.bytesIn.Add(uint64(n))
		l.ctr.reads.Add(1)
		l.ctr.lingerDropped.Add(uint64(n))
	}
}

// stopLinger stops the linger timer of a conn that closes. Loop
// goroutine.
func (c *conn) stopLinger() {
	if c.slow != nil && c.slow.linger != nil {
		c.loop.loop.StopTimer(c.slow.linger)
		c.slow.linger = nil
	}
}

// closeDoomed closes a conn that a failure doomed during handler code:
// a decode error lingers (the handler may have written an error reply),
// anything else closes at once. Loop goroutine.
func (c *conn) closeDoomed() {
	if c.decodeDoomed() {
		c.linger(c.closeErr())
		return
	}
	c.closeNow(c.closeErr())
}
