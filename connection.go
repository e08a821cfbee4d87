//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/bufferpool"
	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
	"github.com/mill-io/mill/reactor"
)

// conn is the Conn mill hands to handlers. It is created by the main
// loop, then owned by its event loop for life and never reused. It is
// kept small (an idle server holds one per connection and nothing else):
// state needed only after a failure or while asynchronous writes wait
// lives behind slow.
type conn struct {
	fd     int
	st     connState   // the loop's view of the state: see connstate.go
	shared sharedState // the state other goroutines read
	// inflight counts work that may still write to the conn or run
	// handler code for it: worker-pool tasks not yet finished, and
	// asynchronous writes, Do functions and writability notices not yet
	// run on the loop. A graceful drain, and a close after the peer's
	// FIN, wait for it to reach zero (see checkDone).
	inflight atomic.Int32
	// tasks counts the worker-pool tasks of inflight: while one runs, its
	// answer may still be written during a graceful drain.
	tasks  atomic.Int32
	loop   *eventLoop
	remote netip.AddrPort // zero for Unix-domain peers
	ctx    any
	codec  codec.Codec

	// Input. While handler code runs, view is the unread input as one
	// slice, aliasing either the loop's read buffer or in; settle folds
	// it back when the code returns.
	view []byte
	in   bufferpool.Ring

	// Output: bytes not yet taken by the socket, and the write
	// callbacks waiting for theirs to go (outbox.go).
	out  outbox
	slow *connSlow
	tm   *connTimer // nil unless the connection has timeouts
}

// connSlow is the part of a conn that most connections never need.
type connSlow struct {
	closeErr error          // why the conn closes once the callback returns (write error, decode error, panic), or after lingering
	linger   *reactor.Timer // ends a lingering close
	wait     waitQueue      // asynchronous-write callbacks waiting for their bytes (outbox.go)
	tls      *tlsSession    // a TLS conn's session (tls_conn.go); set before the conn is seen, never changed
	proxy    *proxySession  // a conn's PROXY protocol header (proxy_conn.go); likewise
}

// waiting reports whether an asynchronous-write callback waits for its
// bytes; due, whether the oldest one's have all gone; next removes it.
func (c *conn) waiting() bool       { return c.slow != nil && c.slow.wait.waiting() }
func (c *conn) due() bool           { return c.slow != nil && c.slow.wait.due(c.out.sent) }
func (c *conn) next() AsyncCallback { return c.slow.wait.next() }

// slowPart returns c.slow, allocating it on first use.
func (c *conn) slowPart() *connSlow {
	if c.slow == nil {
		c.slow = &connSlow{}
	}
	return c.slow
}

// closeErr is the error the conn will close with, if one was recorded.
func (c *conn) closeErr() error {
	if c.slow == nil {
		return nil
	}
	return c.slow.closeErr
}

func (c *conn) sealed() {}

// LocalAddr is the connection's local address: the server's, when every
// connection shares one; else (a wildcard or several listening
// addresses, a Client's connections) what getsockname says, asked each
// time. Any goroutine; once the descriptor is closed (after OnClose) the
// second kind is nil, since its number may name another socket by then.
func (c *conn) LocalAddr() net.Addr {
	if a, ok := c.proxyLocal(); ok {
		return a
	}
	if a := c.loop.e.local; a != nil {
		return a
	}
	if c.shared.fdGone() {
		return nil
	}
	sa, err := unix.Getsockname(c.fd)
	// Closed meanwhile? sharedFDGone is set before the descriptor is
	// closed, so if it is still clear now the answer was this socket's.
	if err != nil || c.shared.fdGone() {
		return nil
	}
	return socket.ToAddr(sa)
}

// closeFD closes the descriptor, first telling other goroutines
// (LocalAddr) that its number is no longer c's. Loop goroutine, or the
// goroutine that made c before anyone else saw it.
func (c *conn) closeFD() {
	c.shared.set(sharedFDGone)
	unix.Close(c.fd)
}

// RemoteAddr is the peer's address: a new *net.TCPAddr on each call, or
// an unnamed *net.UnixAddr for Unix-domain peers. Any goroutine.
func (c *conn) RemoteAddr() net.Addr {
	if c.remote.IsValid() {
		return net.TCPAddrFromAddrPort(c.remote)
	}
	return &net.UnixAddr{Net: "unix"}
}

// Fd returns the socket descriptor. Any goroutine.
func (c *conn) Fd() int { return c.fd }

// Server returns the server the connection belongs to. Any goroutine.
func (c *conn) Server() *Server { return c.loop.e.s }

// Context returns the value stored by SetContext. Loop goroutine only.
func (c *conn) Context() any { return c.ctx }

// SetContext stores per-connection state. Loop goroutine only.
func (c *conn) SetContext(ctx any) { c.ctx = ctx }

// HandleEvent is the reactor's entry point: flush on writable (or on a
// hang-up or error, to learn its fate), read on readable, hang-up or
// error until the peer's FIN; after that only a hang-up or error matters.
// Loop goroutine.
func (c *conn) HandleEvent(_ int, f netpoll.Flags) {
	if f&(netpoll.Out|netpoll.Error|netpoll.Hangup) != 0 && c.writeInterest() && c.sendQueued() {
		return
	}
	if !c.peerEOF() {
		if c.readStopped() {
			// A pause stopped reading (the inbound limit, flow control
			// or the handler), yet the poller reports a hang-up or an
			// error whatever the interest: hear nothing more until
			// reading resumes, rather than read past the pause or spin.
			if !c.writeInterest() {
				c.loop.loop.Detach(c.fd)
			}
			return
		}
		// A lingering close has asked to close too, yet reads on: to
		// drop input until the peer's FIN.
		if f&(netpoll.In|netpoll.Hangup|netpoll.Error) != 0 && (!c.shared.closing() || c.lingering()) {
			c.read()
		}
		return
	}
	// Reading is over. With read interest off, a hang-up or an error
	// means the connection is gone (a half-open one was reset, say).
	if f&(netpoll.Hangup|netpoll.Error) != 0 && !c.writeInterest() {
		c.closeNow(socket.Err(c.fd))
	}
}

// sendQueued flushes queued output and acts on the outcome: a failed
// write closes the conn, and so does one recorded during a callback; an
// emptied queue may complete a half-close, a peer's hang-up or a
// graceful drain. It reports whether nothing more is to be done for the
// event (the conn closed, or a drain is deciding its fate). Loop
// goroutine.
func (c *conn) sendQueued() bool {
	if err := c.flush(); err != nil {
		c.closeNow(err)
		return true
	}
	if c.doomed() {
		c.closeDoomed()
		return c.closed()
	}
	if c.out.Len() == 0 && c.outputSent() {
		return true
	}
	if c.loop.draining {
		c.checkDone()
		return true
	}
	return false
}

// read takes one read's worth of input and gives it to OnTraffic.
func (c *conn) read() {
	l := c.loop
	if c.lingering() {
		c.lingerRead()
		return
	}
	if c.special() {
		switch {
		case c.awaitsProxy():
			c.proxyRead()
		case c.handshaking():
			c.handshakeRead()
		default:
			c.readTLS()
		}
		return
	}
	c.settle()
	n, err := c.readSocket()
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		c.closeNow(os.NewSyscallError("read", err))
		return
	case n == 0: // the peer closed its side
		c.peerClosed()
		return
	}
	c.received()
	l.ctr.bytesIn.Add(uint64(n))
	l.ctr.reads.Add(1)
	c.deliver(n)
}

// deliver gives OnTraffic the n bytes just read into the loop's read
// buffer, after what was left unread before. Loop goroutine.
func (c *conn) deliver(n int) {
	l := c.loop
	c.markServed()
	if c.in.Len() == 0 {
		c.view = l.readBuf[:n]
	} else {
		c.in.Write(l.readBuf[:n])
		c.view = c.in.Contiguous(-1)
		c.setViewRing(true)
	}
	c.run("OnTraffic", func() Action { return l.h.OnTraffic(c) })
}

// readBeforeOpen makes one read for a conn that is not open yet (its
// PROXY header, its TLS handshake) into the loop's read buffer, and
// counts it: n > 0 bytes; 0, nil when the socket has nothing now;
// io.EOF at the peer's FIN; or the socket's error. Loop goroutine.
func (c *conn) readBeforeOpen() (int, error) {
	n, err := c.readSocket()
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, os.NewSyscallError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	c.received()
	c.loop.ctr.bytesIn.Add(uint64(n))
	c.loop.ctr.reads.Add(1)
	return n, nil
}

// readSocket makes one read into the loop's read buffer, retrying an
// interrupted one. Loop goroutine.
func (c *conn) readSocket() (int, error) {
	for {
		n, err := socket.Read(c.fd, c.loop.readBuf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// fail records a broken socket (or a panic). Inside a callback the close
// waits until the callback returns; otherwise it happens now. Loop
// goroutine.
func (c *conn) fail(err error) {
	if c.inCallback() {
		c.markDoomed(err, false)
		return
	}
	c.closeNow(err)
}

// Close closes the connection on its loop. Any goroutine.
func (c *conn) Close() error {
	if !c.shared.requestClose() {
		return ErrClosed
	}
	if c.loop.loop.Post(func() { c.closeNow(nil) }) != nil {
		return ErrClosed // the loop is gone, and closed the conn on its way out
	}
	return nil
}

// closeNow closes the connection: a last best-effort flush, the
// outstanding write callbacks, OnClose, then the descriptor and buffers.
// It runs at most once. Loop goroutine.
func (c *conn) closeNow(err error) {
	if !c.markClosed() {
		return
	}
	l := c.loop
	if c.awaitsProxy() {
		c.closingProxy(err)
	}
	if c.isTLS() {
		c.closingTLS(err)
	}
	if c.out.Len() > 0 {
		c.flush() // best effort: the error, if any, is the one we close with or moot
	}
	for c.waiting() {
		c.call(c.next(), ErrClosed)
	}
	c.stopTimeouts()
	c.stopLinger()
	l.loop.Unregister(c.fd)
	if c.opened() {
		c.run("OnClose", func() Action { return l.h.OnClose(c, err) })
	}
	if c.isTLS() {
		c.handshakeNotify() // a Client's dial whose handshake failed hears it after OnClose
	}
	c.closeFD()
	c.view = nil
	c.in.Release()
	if n := c.out.Len(); n > 0 {
		l.ctr.outPending.Add(-int64(n))
		l.ctr.outDropped.Add(uint64(n)) // accepted, never sent: counted, never silent
	}
	c.out.release()
	l.ctr.closed[causeOf(err)].Add(1)
	l.conns.Add(-1)
	if l.draining {
		l.checkDrained()
	}
}
