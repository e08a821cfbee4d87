//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

// connFlags is a connection's state, owned by its loop goroutine. The
// only state other goroutines touch is conn.closeReq, an atomic.
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
//
// Lifecycle: accepted (0) -> open|wantRead -> [peerEOF | shutWrite ->
// writeShut] -> [closeAfter] -> closed. A conn is never reused, so a
// handle kept after close sees flagClosed forever. Interest follows
// state: read while !peerEOF, write while output is queued.
type connFlags uint16

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
)
