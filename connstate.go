//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"sync/atomic"

	"github.com/mill-io/mill/netpoll"
)

// connState is a connection's state, owned by its loop goroutine. This
// file is the only one that reads or writes it: everything else asks
// through the predicates and transitions below. What other goroutines
// may read lives in sharedState instead.
//
// Three parts of it are enumerations, so that combinations that mean
// nothing cannot be written down:
//
//	life   lifeNew -> [lifeProxy -> lifeNew] -> [lifeHandshake] -> lifeOpen
//	              -> [lifeLinger] -> lifeClosed
//	       (lifeNew, lifeProxy or lifeHandshake -> lifeClosed for a conn
//	       refused, a dial that failed, a PROXY header or a TLS handshake
//	       that failed: OnClose is owed only once OnOpen has run, or for
//	       a Client's connection from the connect on, which owesClose
//	       records). In lifeProxy and lifeHandshake the conn is
//	       registered for reading but no handler code runs and its
//	       timeouts do not: lifeProxy waits for a PROXY protocol header
//	       (proxy_conn.go), lifeHandshake for a TLS handshake
//	       (tls_conn.go), whose input it feeds.
//	write  writeOpen -> writeFINPending -> writeFINSent
//	       (CloseWrite or a lingering close asks for the FIN; it goes
//	       once queued output has gone out; writes fail from the ask on)
//	doom   doomNone -> doomBroken   a write failed or handler code
//	                                panicked: close once the callback
//	                                returns, with slow.closeErr
//	       doomNone -> doomDecode   the codec rejected the input: no
//	                                more frames; writes still work until
//	                                the callback returns (for an error
//	                                reply), then a lingering close
//
// and the rest are independent bits:
//
//	bit 0  bitPeerEOF          the peer shut its side: nothing more to read
//	bit 1  bitPauseInbound     unread input passed the inbound limit
//	bit 2  bitPauseFlow        queued output passed the high watermark
//	                           (flow control): reading waits for the low one
//	bit 3  bitPauseHandler     the handler paused reading (PauseReading)
//	bit 4  bitInCallback       handler code for this conn is running, so a
//	                           failure must not close it underneath
//	bit 5  bitViewRing         conn.view aliases the input ring rather than
//	                           the loop's read buffer
//	bit 6  bitToldUnwritable   a WritabilityHandler was last told the conn
//	                           is not writable
//	bit 7  bitBatched          output waits on the loop's batch list for the
//	                           end of the iteration (WithWriteBatching)
//	bit 8  bitWantRead         read interest is registered with the poller
//	bit 9  bitWantWrite        write interest is registered
//	bit 10 bitOwesClose        OnOpen has run, so OnClose is owed
//	bit 11 bitConsumed         handler code consumed input since the last
//	                           settle (the read timeout restarts)
//	bit 12 bitTLS              the conn speaks TLS: its session is
//	                           slow.tls, and reads and writes go through it
//	bit 13 bitHandshakeWait    reading waits for the TLS handshake: the input
//	                           it has not taken reached its bound, or the
//	                           peer's FIN came (what came before it may
//	                           still complete the handshake and be read)
//	bit 14 bitProxy            the conn awaits a PROXY protocol header:
//	                           slow.proxy is its progress
//	bit 15 bitServed           input was delivered to the handler once (a
//	                           HandOff's drain waits for the first input of
//	                           conns without)
//
// Interest follows state (updateInterest, below): read while open, the
// peer has not shut its side, no pause holds and no graceful drain is
// on (a lingering conn reads, to drop input, until the peer's FIN);
// write while output is queued (output on the batch list may wait
// without it). A handshaking conn reads unless bitHandshakeWait holds
// or a drain is on; one awaiting a PROXY header, unless a drain is on
// (in a HandOff's grace both read on, and so does an open conn that has
// sent nothing yet: awaitsFirstInput). A conn is never reused, so a handle kept after
// close sees lifeClosed forever.
//
// The three enumerations share one byte (phase: life in bits 0-2, write
// in bits 3-4, doom in bits 5-6), so that the whole state is four bytes:
// an idle server holds one conn per connection, and every byte counts.
type connState struct {
	phase uint8
	bits  stateBits
}

type (
	lifecycle uint8
	writeSide uint8
	doomKind  uint8
	stateBits uint16
)

func (s *connState) life() lifecycle     { return lifecycle(s.phase & 7) }
func (s *connState) write() writeSide    { return writeSide(s.phase >> 3 & 3) }
func (s *connState) doom() doomKind      { return doomKind(s.phase >> 5 & 3) }
func (s *connState) setLife(v lifecycle) { s.phase = s.phase&^7 | uint8(v) }
func (s *connState) setWrite(v writeSide) {
	s.phase = s.phase&^(3<<3) | uint8(v)<<3
}
func (s *connState) setDoom(v doomKind) { s.phase = s.phase&^(3<<5) | uint8(v)<<5 }

// set turns the bits b on or off.
func (s *connState) set(b stateBits, on bool) {
	if on {
		s.bits |= b
	} else {
		s.bits &^= b
	}
}

const (
	lifeNew lifecycle = iota
	lifeProxy
	lifeHandshake
	lifeOpen
	lifeLinger
	lifeClosed
)

const (
	writeOpen writeSide = iota
	writeFINPending
	writeFINSent
)

const (
	doomNone doomKind = iota
	doomBroken
	doomDecode
)

const (
	bitPeerEOF stateBits = 1 << iota
	bitPauseInbound
	bitPauseFlow
	bitPauseHandler
	bitInCallback
	bitViewRing
	bitToldUnwritable
	bitBatched
	bitWantRead
	bitWantWrite
	bitOwesClose
	bitConsumed
	bitTLS
	bitHandshakeWait
	bitProxy
	bitServed
)

// Lifecycle.

// closed reports whether closing has begun (or the conn never opened and
// was refused): writes fail, and nothing more is delivered.
func (c *conn) closed() bool { return c.st.life() == lifeClosed }

// lingering reports whether a lingering close is under way.
func (c *conn) lingering() bool { return c.st.life() == lifeLinger }

// ending reports whether the conn is lingering or closed: it takes no
// new work, and pauses no longer matter.
func (c *conn) ending() bool { return c.st.life() >= lifeLinger }

// opened reports whether OnOpen has run (OnClose is then owed, or ran).
func (c *conn) opened() bool { return c.st.bits&bitOwesClose != 0 }

// markRegistered records that the conn was registered with the poller
// for reading.
func (c *conn) markRegistered() { c.st.bits |= bitWantRead }

// markOpen records that OnOpen is about to run: the conn is open, and
// OnClose is owed.
func (c *conn) markOpen() {
	c.st.setLife(lifeOpen)
	c.st.bits = c.st.bits&^bitHandshakeWait | bitOwesClose
}

// Before open.

// preOpen reports whether the conn awaits a PROXY header or its TLS
// handshake: registered, but no handler code has run.
func (c *conn) preOpen() bool {
	l := c.st.life()
	return l == lifeProxy || l == lifeHandshake
}

// special reports whether reads go another way than plaintext's: the
// conn speaks TLS or awaits a PROXY header. One test on the plaintext
// path.
func (c *conn) special() bool { return c.st.bits&(bitTLS|bitProxy) != 0 }

// PROXY protocol.

// awaitsProxy reports whether the conn still awaits its PROXY header
// (or has not begun to: attachProxy set it up).
func (c *conn) awaitsProxy() bool { return c.st.bits&bitProxy != 0 }

// markProxyPending records that the conn must read a PROXY header first;
// slow.proxy must be set.
func (c *conn) markProxyPending() { c.st.bits |= bitProxy }

// markProxyWait moves a registered conn to waiting for its header.
func (c *conn) markProxyWait() { c.st.setLife(lifeProxy) }

// markProxyDone records that the header is read (or was optional and
// absent); the conn moves on to its handshake or to open.
func (c *conn) markProxyDone() {
	c.st.bits &^= bitProxy
	c.st.setLife(lifeNew)
}

// TLS.

// isTLS reports whether the conn speaks TLS (slow.tls is its session).
func (c *conn) isTLS() bool { return c.st.bits&bitTLS != 0 }

// markTLS records that the conn speaks TLS; slow.tls must be set.
func (c *conn) markTLS() { c.st.bits |= bitTLS }

// handshaking reports whether the conn's TLS handshake is not done yet.
func (c *conn) handshaking() bool { return c.st.life() == lifeHandshake }

// markHandshake moves a registered conn into its TLS handshake. A
// Client's conn is owed OnClose from here on, as a failed dial is.
func (c *conn) markHandshake(client bool) {
	c.st.setLife(lifeHandshake)
	if client {
		c.st.bits |= bitOwesClose
	}
}

// setHandshakeWait records whether reading waits for the handshake, and
// updates the interest.
func (c *conn) setHandshakeWait(on bool) {
	if (c.st.bits&bitHandshakeWait != 0) != on {
		c.st.bits ^= bitHandshakeWait
		c.updateInterest()
	}
}

// markClosed moves the conn to closed; it reports false if it was
// already. Whether OnClose is owed is opened.
func (c *conn) markClosed() bool {
	if c.st.life() == lifeClosed {
		return false
	}
	c.st.setLife(lifeClosed)
	c.shared.set(sharedCloseReq)
	return true
}

// markLinger starts a lingering close: writes stop and our FIN is asked
// for, the pauses and a pending doom no longer matter (input is dropped
// from now on), and the view is gone. It reports false if the conn is
// already lingering or closed.
func (c *conn) markLinger() bool {
	if c.st.life() >= lifeLinger {
		return false
	}
	c.st.setLife(lifeLinger)
	c.st.setDoom(doomNone)
	c.st.bits &^= bitPauseInbound | bitPauseFlow | bitPauseHandler | bitViewRing
	if c.st.write() == writeOpen {
		c.st.setWrite(writeFINPending)
	}
	c.shared.set(sharedCloseReq)
	return true
}

// Write side.

// writeErr reports why the conn cannot take output now, if it cannot:
// it is closed, its FIN was asked for, or its socket broke (after a
// decode error writes still work, for an error reply).
func (c *conn) writeErr() error {
	if c.st.life() == lifeClosed || c.st.write() != writeOpen {
		return ErrClosed
	}
	if c.st.doom() == doomBroken {
		return c.closeErr()
	}
	return nil
}

// askFIN records CloseWrite: our FIN goes once queued output has gone.
// It reports false if the conn is closed or the FIN was already asked
// for.
func (c *conn) askFIN() bool {
	if c.st.life() == lifeClosed || c.st.write() != writeOpen {
		return false
	}
	c.st.setWrite(writeFINPending)
	return true
}

// finPending reports whether our FIN was asked for and has not gone.
func (c *conn) finPending() bool { return c.st.write() == writeFINPending }

// finSent reports whether our FIN has gone.
func (c *conn) finSent() bool { return c.st.write() == writeFINSent }

// markFINSent records that our FIN has gone.
func (c *conn) markFINSent() { c.st.setWrite(writeFINSent) }

// Doom.

// doomed reports whether a failure or a decode error dooms the conn to
// close once the current callback returns.
func (c *conn) doomed() bool { return c.st.doom() != doomNone }

// brokenDoom reports whether the socket broke (or handler code
// panicked) and the conn closes once the callback returns.
func (c *conn) brokenDoom() bool { return c.st.doom() == doomBroken }

// decodeDoomed reports whether the doom is a decode error (so the close
// lingers, for the error reply the handler may have written).
func (c *conn) decodeDoomed() bool { return c.st.doom() == doomDecode }

// markDoomed records the first failure, err, to close with once the
// callback returns; a later one changes nothing. decode says the codec
// rejected the input rather than the socket broke.
func (c *conn) markDoomed(err error, decode bool) {
	if c.st.doom() != doomNone {
		return
	}
	c.st.setDoom(doomBroken)
	if decode {
		c.st.setDoom(doomDecode)
	}
	c.slowPart().closeErr = err
}

// Read side.

// peerEOF reports whether the peer has shut its sending side.
func (c *conn) peerEOF() bool { return c.st.bits&bitPeerEOF != 0 }

// markPeerEOF records the peer's FIN.
func (c *conn) markPeerEOF() { c.st.bits |= bitPeerEOF }

// readStopped reports whether a pause keeps the conn from reading: the
// inbound limit, flow control, or the handler.
func (c *conn) readStopped() bool {
	return c.st.bits&(bitPauseInbound|bitPauseFlow|bitPauseHandler) != 0
}

// inboundFull, flowPaused and handlerPaused report each pause.
func (c *conn) inboundFull() bool   { return c.st.bits&bitPauseInbound != 0 }
func (c *conn) flowPaused() bool    { return c.st.bits&bitPauseFlow != 0 }
func (c *conn) handlerPaused() bool { return c.st.bits&bitPauseHandler != 0 }

// pauseReason names one of the pauses that stop reading.
type pauseReason stateBits

const (
	pauseInbound = pauseReason(bitPauseInbound) // unread input past the inbound limit
	pauseFlow    = pauseReason(bitPauseFlow)    // flow control: output past the high watermark
	pauseHandler = pauseReason(bitPauseHandler) // PauseReading
)

// setPause turns one pause on or off and updates the interest if that
// changed anything. A lingering or closed conn takes no pause. It
// reports whether the pause changed.
func (c *conn) setPause(p pauseReason, on bool) bool {
	b := stateBits(p)
	if on && c.st.life() >= lifeLinger || (c.st.bits&b != 0) == on {
		return false
	}
	c.st.bits ^= b
	c.updateInterest()
	c.inputState(false) // the read timeout stops while mill holds reading off, and restarts after
	return true
}

// markServed records that input was delivered to the handler; served
// reports whether it ever was.
func (c *conn) markServed()  { c.st.bits |= bitServed }
func (c *conn) served() bool { return c.st.bits&bitServed != 0 }

// awaitsFirstInput reports whether a HandOff's drain keeps the conn
// open, and reading, for its first input.
func (c *conn) awaitsFirstInput() bool { return c.loop.freshGrace && c.st.bits&bitServed == 0 }

// markConsumed records that handler code took input (Next, Discard,
// Read, ReadFrame); takeConsumed reports and forgets it, for settle.
func (c *conn) markConsumed() { c.st.bits |= bitConsumed }

func (c *conn) takeConsumed() bool {
	was := c.st.bits&bitConsumed != 0
	c.st.bits &^= bitConsumed
	return was
}

// Handler code.

// inCallback reports whether handler code for c is running.
func (c *conn) inCallback() bool { return c.st.bits&bitInCallback != 0 }

// enterCallback marks handler code for c as running and reports whether
// it already was (a write callback run by a Write inside OnTraffic,
// say); leaveCallback restores what enterCallback returned.
func (c *conn) enterCallback() (nested bool) {
	nested = c.st.bits&bitInCallback != 0
	c.st.bits |= bitInCallback
	return nested
}

func (c *conn) leaveCallback(nested bool) {
	if !nested {
		c.st.bits &^= bitInCallback
	}
}

// viewIsRing reports whether c.view aliases the input ring; setViewRing
// records which buffer it aliases.
func (c *conn) viewIsRing() bool { return c.st.bits&bitViewRing != 0 }

func (c *conn) setViewRing(ring bool) { c.st.set(bitViewRing, ring) }

// handlerThinksWritable is what a WritabilityHandler was last told;
// toldWritability records a notice.
func (c *conn) handlerThinksWritable() bool { return c.st.bits&bitToldUnwritable == 0 }

func (c *conn) toldWritability(w bool) { c.st.set(bitToldUnwritable, !w) }

// batched reports whether c is on its loop's batch list; setBatched
// records it joining or leaving.
func (c *conn) batched() bool { return c.st.bits&bitBatched != 0 }

func (c *conn) setBatched(on bool) { c.st.set(bitBatched, on) }

// Interest.

// writeInterest and readInterest report what is registered with the
// poller.
func (c *conn) writeInterest() bool { return c.st.bits&bitWantWrite != 0 }
func (c *conn) readInterest() bool  { return c.st.bits&bitWantRead != 0 }

// updateInterest makes the poller's interest match the state (the rule
// is in connState's doc). Loop goroutine.
func (c *conn) updateInterest() {
	if c.st.life() == lifeClosed {
		return
	}
	var want stateBits
	switch {
	case c.st.bits&bitPeerEOF != 0:
	case c.st.life() == lifeLinger:
		want |= bitWantRead // to drop input until the peer's FIN
	case c.st.life() == lifeHandshake:
		if c.st.bits&bitHandshakeWait == 0 && (!c.loop.draining || c.loop.freshGrace) {
			want |= bitWantRead
		}
	case c.st.life() == lifeProxy:
		if !c.loop.draining || c.loop.freshGrace {
			want |= bitWantRead
		}
	case !c.readStopped() && (!c.loop.draining || c.awaitsFirstInput()):
		want |= bitWantRead
	}
	if c.out.Len() > 0 {
		want |= bitWantWrite
	}
	if want == c.st.bits&(bitWantRead|bitWantWrite) {
		return
	}
	var in netpoll.Interest
	if want&bitWantRead != 0 {
		in |= netpoll.Readable
	}
	if want&bitWantWrite != 0 {
		in |= netpoll.Writable
	}
	if err := c.loop.loop.SetInterest(c.fd, in); err != nil {
		c.fail(err)
		return
	}
	resumed := want&^c.st.bits&bitWantRead != 0
	c.st.bits = c.st.bits&^(bitWantRead|bitWantWrite) | want
	if resumed && c.st.bits&bitTLS != 0 && c.st.life() == lifeOpen {
		// crypto/tls may hold records it read before reading stopped,
		// which no readiness event will announce.
		c.kickTLS()
	}
}

// sharedState holds the bits of a connection's state that any goroutine
// may read; only the loop sets them, except sharedCloseReq, which Close
// and CloseLingering set from any goroutine.
//
//	bit 0  sharedCloseReq    Close was called, or closing has begun
//	bit 1  sharedUnwritable  queued output passed the high watermark and
//	                         has not yet fallen below the low one
//	bit 2  sharedFDGone      the descriptor is closed (set just before):
//	                         its number may name another socket now
//	bit 3  sharedTLS         the conn speaks TLS: slow.tls was set before
//	                         anyone but its loop saw the conn, and stays
//	bit 4  sharedProxied     a PROXY header was read: slow.proxy holds it,
//	                         set before anyone but the loop saw the conn
type sharedState struct{ v atomic.Uint32 }

const (
	sharedCloseReq uint32 = 1 << iota
	sharedUnwritable
	sharedFDGone
	sharedTLS
	sharedProxied
)

func (s *sharedState) tls() bool     { return s.v.Load()&sharedTLS != 0 }
func (s *sharedState) proxied() bool { return s.v.Load()&sharedProxied != 0 }

func (s *sharedState) closing() bool      { return s.v.Load()&sharedCloseReq != 0 }
func (s *sharedState) fdGone() bool       { return s.v.Load()&sharedFDGone != 0 }
func (s *sharedState) writable() bool     { return s.v.Load()&sharedUnwritable == 0 }
func (s *sharedState) set(bits uint32)    { s.v.Or(bits) }
func (s *sharedState) clear(bits uint32)  { s.v.And(^bits) }
func (s *sharedState) requestClose() bool { return s.v.Or(sharedCloseReq)&sharedCloseReq == 0 }
