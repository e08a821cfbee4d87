//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"os"

	"golang.org/x/sys/unix"
)

// peerClosed handles the peer's FIN, after every byte before it was read
// and given to OnTraffic. By default the connection closes (OnClose sees
// nil) once nothing is pending for it (see checkDone): its queued output
// has gone out and the work it started (asynchronous writes, Do,
// worker-pool tasks, writability notices) has finished, so a reply to a
// half-closed peer is never cut short. WithHalfOpen(true) keeps it open
// for writing, tells a HalfCloseHandler, and leaves closing to the
// handler. Loop goroutine.
func (c *conn) peerClosed() {
	c.markPeerEOF()
	if c.loop.set.halfOpen {
		if hc, ok := c.loop.h.(HalfCloseHandler); ok {
			c.run("OnHalfClose", func() Action { return hc.OnHalfClose(c) })
		}
		if !c.closed() && c.finSent() {
			c.closeNow(nil) // both directions are done
			return
		}
		c.updateInterest()
		return
	}
	c.updateInterest() // stop reading, keep writing
	c.checkDone()
}

// outputSent runs when the output queue has just emptied: it sends a
// FIN that CloseWrite (or a lingering close) asked for, closes a
// connection both of whose directions are now shut, and otherwise sees
// whether the connection is done (checkDone). It reports whether the
// connection closed. Loop goroutine.
func (c *conn) outputSent() bool {
	if c.finPending() {
		if c.sendCloseNotify() || c.closed() {
			return c.closed() // the close_notify goes first
		}
		c.shutWrite()
	}
	lingerDone := c.lingering() && c.finSent() && c.loop.set.lingerTimeout == 0
	if !c.closed() && (c.peerEOF() && c.finSent() || lingerDone) {
		var err error
		if c.lingering() {
			err = c.slow.closeErr
		}
		c.closeNow(err) // both directions are done, or a linger of 0 ends with our FIN
	} else {
		c.checkDone()
	}
	return c.closed()
}

// CloseWrite shuts the connection's sending side once its queued output
// has gone out: the peer reads end of stream, while this side can still
// read. Any goroutine; it takes effect on the loop once the current
// callback returns, after writes made or submitted before it. Writes
// after that fail with ErrClosed.
func (c *conn) CloseWrite() error {
	if c.shared.closing() {
		return ErrClosed
	}
	if c.loop.loop.Post(c.closeWriteNow) != nil {
		return ErrClosed
	}
	return nil
}

func (c *conn) closeWriteNow() {
	if c.askFIN() && c.out.Len() == 0 {
		c.outputSent()
	}
}

// shutWrite sends our FIN. Loop goroutine.
func (c *conn) shutWrite() {
	c.markFINSent()
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		if err == unix.ENOTCONN && c.peerEOF() && c.isTLS() {
			// The peer closed after its close_notify and reset ours,
			// which came after: it wanted nothing more.
			return
		}
		c.fail(os.NewSyscallError("shutdown", err))
	}
}
