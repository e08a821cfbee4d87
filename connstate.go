//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import "sync/atomic"

// connFlags is a connection's state, owned by its loop goroutine. What
// other goroutines may read lives in conn.shared (sharedState) instead.
//
//	bit 0  flagOpen        OnOpen has run, so OnClose is owed
//	bit 1  flagClosed      closing has begun; writes fail with ErrClosed
//	bit 2  flagInCallback  handler code for this conn is running, so a
//	                       failure must not close it underneath the handler
//	bit 3  flagCloseAfter  a write failed inside a callback: close with
//	                       conn.slow.closeErr as soon as the callback returns
//	bit 4  flagWantRead    read interest is registered with the poller
//	bit 5  flagWantWrite   write interest is registered (output pending)
//	bit 6  flagViewRing    conn.view aliases the input ring rather than
//	                       the loop's read buffer
//	bit 7  flagPeerEOF     the peer shut its side: nothing more to read
//	bit 8  flagShutWrite   CloseWrite was asked for: send FIN once the
//	                       output queue drains; further writes fail
//	bit 9  flagWriteShut   our FIN has been sent
//	bit 10 flagReadPaused  unread input passed the inbound limit: reading
//	                       waits until the handler consumes some
//	bit 11 flagToldUnwritable  a WritabilityHandler was last told the conn
//	                       is not writable
//	bit 12 flagDecodeFailed    the codec rejected the input: no more frames,
//	                       closing after the callback, but writes still
//	                       work until then (for a protocol error reply)
//	bit 13 flagBatched     output waits on the loop's batch list for the
//	                       end of the iteration (WithWriteBatching): the
//	                       queue may be non-empty with write interest off
//	bit 14 flagFlowPaused  flow control: queued output passed the high
//	                       watermark, so reading waits until it falls
//	                       below the low one (WithFlowControl)
//	bit 15 flagHeld        the handler paused reading (PauseReading):
//	                       unread input is kept on purpose, and nothing
//	                       is read until ResumeReading
//	bit 16 flagLinger      a lingering close is under way: writes fail,
//	                       our FIN goes once output drains, and input is
//	                       read and dropped until the peer's FIN or the
//	                       linger timeout (CloseLingering, decode errors)
//
// Lifecycle: accepted (0) -> open|wantRead -> [peerEOF | shutWrite ->
// writeShut] -> [closeAfter] -> [linger] -> closed. A conn is never reused, so a
// handle kept after close sees flagClosed forever. Interest follows
// state: read while the peer has not shut its side and no pause holds
// (readPaused, flowPaused, held), write while output is queued (output
// on the batch list may wait without it).
type connFlags uint32

const (
	flagOpen connFlags = 1 << iota
	flagClosed
	flagInCallback
	flagCloseAfter
	flagWantRead
	flagWantWrite
	flagViewRing
	flagPeerEOF
	flagShutWrite
	flagWriteShut
	flagReadPaused
	flagToldUnwritable
	flagDecodeFailed
	flagBatched
	flagFlowPaused
	flagHeld
	flagLinger
)

// readStopped reports whether a pause keeps the conn from reading: the
// inbound limit, flow control, or the handler.
func (f connFlags) readStopped() bool {
	return f&(flagReadPaused|flagFlowPaused|flagHeld) != 0
}

// sharedState holds the bits of a connection's state that any goroutine
// may read; only the loop sets them, except sharedCloseReq, which Close
// sets from anywhere.
//
//	bit 0  sharedCloseReq    Close was called, or closing has begun
//	bit 1  sharedUnwritable  queued output passed the high watermark and
//	                         has not yet fallen below the low one
type sharedState struct{ v atomic.Uint32 }

const (
	sharedCloseReq uint32 = 1 << iota
	sharedUnwritable
)

func (s *sharedState) closing() bool      { return s.v.Load()&sharedCloseReq != 0 }
func (s *sharedState) writable() bool     { return s.v.Load()&sharedUnwritable == 0 }
func (s *sharedState) set(bits uint32)    { s.v.Or(bits) }
func (s *sharedState) clear(bits uint32)  { s.v.And(^bits) }
func (s *sharedState) requestClose() bool { return s.v.Or(sharedCloseReq)&sharedCloseReq == 0 }
