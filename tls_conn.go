//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/mill-io/mill/reactor"
)

// A TLS connection's life on its loop (the states are in connstate.go):
//
//  1. open registers it and calls beginTLS: lifeHandshake, the handshake
//     timer starts. A server reads the ClientHello on the loop
//     (handshakeRead, scanClientHello); a Client's handshake starts at
//     once, since it speaks first.
//  2. The handshake runs on a goroutine (handshakes, tlsSession.handshake)
//     over the wire in handshake mode: the loop pushes what it reads;
//     the goroutine writes its flights to the socket, and what the
//     socket does not take the loop sends (handshakeOutput).
//  3. handshakeDone, on the loop: the wire turns direct, OnOpen runs
//     (start), and input that came with the last flight is read at once.
//  4. Open: readTLS decrypts on the loop, Write encrypts on it; records
//     go to the socket at once or queue on the conn's output like any
//     bytes, so watermarks, limits, flow control and timeouts apply to
//     them unchanged.
//  5. Closing: our FIN (CloseWrite, a lingering close) follows a
//     close_notify (sendCloseNotify); a graceful close sends one too
//     (closingTLS). A failed handshake closes without OnOpen.

// tlsSession is a TLS connection's state beside its conn.
type tlsSession struct {
	tc       *tls.Conn
	w        *tlsWire
	hs       *handshakes
	timer    *reactor.Timer    // the handshake timeout
	stopCtx  func() bool       // unhooks a DialTLS caller's context
	notify   func(Conn, error) // a Client's dial, waiting for the handshake
	client   bool
	started  bool      // the handshake was handed to a goroutine
	notified bool      // our close_notify is queued
	hello    helloScan // the ClientHello pre-read's progress
	err      error     // why the handshake failed (endHandshake), once it has
	// done: the handshake succeeded and the loop took it over; from
	// then on the handshake's lock is free, and TLS may ask crypto/tls
	// for the state without waiting on a handshake goroutine.
	done atomic.Bool
}

// attachTLS makes c a TLS conn with cfg, before anyone but the goroutine
// making it has seen it. Any goroutine.
func (c *conn) attachTLS(cfg *tls.Config, client bool, notify func(Conn, error)) {
	h := c.loop.e.hs
	s := &tlsSession{hs: h, client: client, notify: notify}
	s.w = newTLSWire(c, h)
	if client {
		s.tc = tls.Client(s.w, cfg)
	} else {
		s.tc = tls.Server(s.w, cfg)
	}
	c.slowPart().tls = s
	c.markTLS()
	c.shared.set(sharedTLS)
}

// beginTLS starts the handshake phase of a registered conn. Loop
// goroutine.
func (c *conn) beginTLS() {
	s := c.slow.tls
	c.markHandshake(s.client)
	s.hs.inProgress.Add(1)
	if t := s.hs.timeout; t > 0 {
		s.timer = c.loop.loop.AfterFunc(t, func() {
			s.timer = nil
			c.closeNow(handshakeError(ErrTLSHandshakeTimeout))
		})
	}
	if s.client {
		c.startHandshake()
	}
}

// startHandshake hands the handshake to a goroutine. Loop goroutine.
func (c *conn) startHandshake() {
	s := c.slow.tls
	s.started = true
	if err := s.hs.start(s); err != nil {
		c.closeNow(handshakeError(err))
	}
}

// handshake runs the handshake. A panic in the configuration's
// callbacks (GetCertificate, VerifyConnection, ...) fails the handshake
// and is logged; the process carries on. Handshake goroutine.
func (s *tlsSession) handshake() {
	var err error
	_, pe := guard(s.hs.log, "TLS handshake", func() Action {
		if s.client {
			// A client computes its key shares before it reads.
			if err = s.w.takeToken(); err != nil {
				return None
			}
		}
		// The context ends when the loop gives up on the handshake, so
		// callbacks that heed ClientHelloInfo.Context stop too.
		err = s.tc.HandshakeContext(s.w.ctx)
		return None
	})
	if pe != nil {
		err = pe
	}
	s.w.releaseToken()
	c := s.w.c
	c.loop.loop.Post(func() { c.handshakeDone(err) })
}

// handshakeRead reads input for the handshake: the ClientHello, which
// starts it, and what follows. Loop goroutine.
func (c *conn) handshakeRead() {
	s := c.slow.tls
	n, err := c.readBeforeOpen()
	switch {
	case err == io.EOF:
		if !s.started {
			c.closeNow(handshakeError(io.ErrUnexpectedEOF))
			return
		}
		// What came before the FIN may still complete the handshake
		// (a client that sends its request and shuts its side): let it
		// read to the end, and hear the FIN again, from the socket,
		// once the conn is open and that input delivered.
		s.w.eof()
		c.setHandshakeWait(true)
		return
	case err != nil:
		c.closeNow(handshakeError(err))
		return
	case n == 0:
		return
	}
	c.handshakeInput(c.loop.readBuf[:n])
}

// handshakeInput hands the handshake input read for it (or left after a
// PROXY protocol header): first the ClientHello, which starts it, then
// what follows. Loop goroutine.
func (c *conn) handshakeInput(b []byte) {
	s := c.slow.tls
	l := c.loop
	full := s.w.push(b)
	if !s.started {
		switch s.w.scanHello(&s.hello) {
		case helloMore:
		case helloComplete:
			c.startHandshake()
		case helloHTTP:
			// A readable answer, then a lingering close, so that the
			// request's unread bytes do not make the kernel reset it.
			c.out.queue([]byte(httpToTLSReply))
			l.ctr.outPending.Add(int64(len(httpToTLSReply)))
			err := handshakeError(ErrNotTLS)
			c.endHandshake(err) // counted now, not when the linger ends
			c.linger(err)
			return
		default:
			c.closeNow(handshakeError(ErrNotTLS))
			return
		}
	}
	if full && !c.closed() {
		c.setHandshakeWait(true) // until handshakeInputTaken
	}
}

// handshakeInputTaken resumes reading once the handshake has taken
// input that had reached its bound (not after the peer's FIN). Loop
// goroutine.
func (c *conn) handshakeInputTaken() {
	if w := c.slow.tls.w; c.handshaking() && !w.inputFull() && !w.sawEOF() {
		c.setHandshakeWait(false)
	}
}

// handshakeOutput sends what the handshake wrote. Loop goroutine.
func (c *conn) handshakeOutput() {
	if c.closed() {
		return
	}
	b := c.slow.tls.w.take()
	if len(b) == 0 {
		return
	}
	c.out.queue(b)
	c.loop.ctr.outPending.Add(int64(len(b)))
	if err := c.flush(); err != nil {
		c.closeNow(handshakeError(err))
	}
}

// handshakeDone takes a finished handshake over. Loop goroutine.
func (c *conn) handshakeDone(err error) {
	if c.closed() || !c.handshaking() {
		return // closed meanwhile (a timeout, a shutdown): counted then
	}
	c.handshakeOutput()
	if c.closed() {
		return
	}
	if err != nil {
		c.closeNow(handshakeError(err))
		return
	}
	s := c.slow.tls
	s.stopTimer(c)
	h := s.hs
	h.inProgress.Add(-1)
	h.done.Add(1)
	if s.tc.ConnectionState().DidResume {
		h.resumed.Add(1)
	}
	s.w.direct = true
	s.done.Store(true)
	notify := s.notify
	s.notify = nil // the dial hears from here, not from a close in OnOpen
	c.loop.start(c)
	c.updateInterest()
	if notify != nil {
		notify(c, c.openErr())
	}
	if c.handshakeLeftInput() {
		c.readTLS() // input that came with the last flight: no readiness event will tell of it
	}
}

// handshakeLeftInput reports whether an open conn may hold input its
// handshake read: left with the wire, or buffered inside crypto/tls.
func (c *conn) handshakeLeftInput() bool {
	return !c.closed() && !c.lingering() && !c.readStopped()
}

// stopTimer stops the handshake's timeout, and unhooks the context of
// the DialTLS that waits for it. Loop goroutine.
func (s *tlsSession) stopTimer(c *conn) {
	if s.timer != nil {
		c.loop.loop.StopTimer(s.timer)
		s.timer = nil
	}
	if s.stopCtx != nil {
		s.stopCtx()
		s.stopCtx = nil
	}
}

// readTLS reads and decrypts what the socket has and gives the plaintext
// to OnTraffic, record by record, until the socket would block, reading
// stops, or the conn has had its turn (then it asks for another: what
// crypto/tls has buffered no readiness event will announce). Loop
// goroutine.
func (c *conn) readTLS() {
	s := c.slow.tls
	l := c.loop
	for i := 0; i < tlsReadsPerTurn; i++ {
		c.settle()
		n, err := s.tc.Read(l.readBuf)
		s.w.readGave(n > 0)
		if n > 0 {
			c.deliver(n)
		}
		if s.w.queued && !c.closed() {
			// crypto/tls answered something itself (a KeyUpdate).
			c.queuedTLS()
			if err := c.flush(); err != nil {
				c.closeNow(err)
				return
			}
		}
		switch {
		case c.closed() || c.lingering():
			return
		case err == errWouldBlock:
			return
		case err == io.EOF: // close_notify, or the socket's EOF at a record boundary
			c.peerClosed()
			return
		case err != nil:
			c.closeNow(tlsError(err))
			return
		case c.readStopped():
			return // resuming reading kicks reading again (updateInterest)
		case s.w.caughtUp() && len(l.readBuf) >= maxRecordPayload:
			return // the poller will say when there is more
		}
	}
	c.kickTLS()
}

// tlsReadsPerTurn bounds the records one conn decrypts before the loop
// serves others.
const tlsReadsPerTurn = 16

// kickTLS has the loop call readTLS again soon, for input crypto/tls
// may have buffered. Loop goroutine.
func (c *conn) kickTLS() {
	c.loop.loop.Post(func() {
		if c.isTLS() && !c.closed() && !c.lingering() && !c.handshaking() && c.readInterest() {
			c.readTLS()
		}
	})
}

// tlsError wraps a TLS failure after the handshake: the peer's alert,
// a record that does not decrypt, a message out of place; the socket's
// own errors stay what they are.
func tlsError(err error) error {
	var se *os.SyscallError
	if errors.Is(err, ErrTLS) || errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTLS, err)
}

// writeTLS encrypts the plaintext, p or bs (total bytes), onto the
// output queue and sends it as Write does. Loop goroutine; the caller
// checked writeErr and admitted total.
func (c *conn) writeTLS(p []byte, bs [][]byte, total int) (int, error) {
	s := c.slow.tls
	later := c.out.Len() > 0 || c.batch(total) // write interest, or the batch, sends it
	s.w.sendNow = !later
	var err error
	if bs == nil {
		_, err = s.tc.Write(p)
	} else {
		// Buffers gathered into records of up to 16 KiB, rather than a
		// record (or several) per buffer.
		l := c.loop
		buf := l.tlsScratch[:0]
		for _, b := range bs {
			for len(b) > 0 && err == nil {
				k := min(len(b), maxRecordPayload-len(buf))
				buf = append(buf, b[:k]...)
				b = b[k:]
				if len(buf) == maxRecordPayload {
					_, err = s.tc.Write(buf)
					buf = buf[:0]
				}
			}
		}
		if len(buf) > 0 && err == nil {
			_, err = s.tc.Write(buf)
		}
		l.tlsScratch = buf[:0]
	}
	s.w.sendNow = false
	if err != nil {
		err = tlsError(err)
		c.fail(err)
		return 0, err
	}
	c.queuedTLS()
	return total, nil
}

// queuedTLS settles records crypto/tls queued on the output (a write's,
// a KeyUpdate's answer, a close_notify), once it has returned: the
// watermarks, flow control and write timeout look at the queue, write
// interest follows it, and a batch grown past its limit goes out. Loop
// goroutine.
func (c *conn) queuedTLS() {
	w := c.slow.tls.w
	if !w.queued {
		return
	}
	w.queued = false
	c.queuedMore()
	c.outputState()
	c.updateInterest()
	if c.batched() && c.out.Len() >= batchLimit {
		c.setBatched(false)
		if err := c.flush(); err != nil {
			c.fail(err)
		}
	}
}

// sendCloseNotify queues our close_notify before our FIN, once, and
// sends what it can; it reports whether output is left to go first.
// Loop goroutine.
func (c *conn) sendCloseNotify() bool {
	if !c.isTLS() {
		return false
	}
	s := c.slow.tls
	if s.notified || !s.w.direct {
		return false
	}
	s.notified = true
	s.tc.CloseWrite() // the queue was empty: it holds only the alert now
	s.w.queued = false
	if err := c.flush(); err != nil {
		if !c.peerEOF() {
			c.fail(err)
			return false
		}
		// The peer closed first and its kernel refused the alert (a
		// client that sends close_notify and closes at once, as curl
		// does): nothing it wanted is lost, so the close stays clean.
		c.loop.ctr.outPending.Add(-int64(c.out.Len()))
		c.out.release()
	}
	return c.out.Len() > 0
}

// closingTLS is closeNow's TLS part, before the close's last flush: a
// handshake under way fails (counted, and its goroutine released); an
// open conn closed without a failure of its socket or its TLS says
// close_notify. Loop goroutine.
func (c *conn) closingTLS(err error) {
	s := c.slow.tls
	if !s.w.direct {
		if err == nil {
			err = handshakeError(ErrClosed)
		}
		c.endHandshake(err)
		return
	}
	switch causeOf(err) {
	case causeIOError, causeTLS:
		return
	}
	if !s.notified && !c.finSent() && !c.brokenDoom() {
		s.notified = true
		s.tc.CloseWrite() // sent by the close's last flush
		s.w.queued = false
	}
}

// endHandshake ends a handshake that failed with err, once: it is
// counted, its goroutine (if any) told, its timer stopped. Loop
// goroutine.
func (c *conn) endHandshake(err error) {
	s := c.slow.tls
	if s.err != nil {
		return
	}
	s.err = err
	s.stopTimer(c)
	s.hs.inProgress.Add(-1)
	s.hs.record(c, err, s.client)
	s.hs.cancel(s)
	s.w.kill(err)
}

// handshakeNotify tells a Client's dial that its handshake failed, after
// OnClose. Loop goroutine.
func (c *conn) handshakeNotify() {
	s := c.slow.tls
	if s.notify != nil {
		notify := s.notify
		s.notify = nil
		notify(nil, s.err)
	}
}

// TLS reports what the handshake negotiated; for a Client's connection
// whose handshake failed (in OnClose), an empty state. Any goroutine.
func (c *conn) TLS() (tls.ConnectionState, bool) {
	if !c.shared.tls() {
		return tls.ConnectionState{}, false
	}
	s := c.slow.tls
	if !s.done.Load() {
		return tls.ConnectionState{}, true // the handshake goroutine may hold crypto/tls's lock
	}
	return s.tc.ConnectionState(), true
}
