//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
)

// maxDatagramsPerEvent bounds the datagrams one readiness event delivers,
// so that a flooded UDP socket cannot starve the loop's other sockets.
const maxDatagramsPerEvent = 64

// packetConn is one UDP socket served by one loop, and the PacketConn
// handed to OnTraffic for each datagram it receives. A server's socket
// is unconnected: while OnTraffic runs the conn stands for the datagram
// being delivered (its sender is the peer). A Client's is connected to
// one peer and behaves like a connection: OnOpen, writes at any time,
// Close, OnClose. One per socket, so delivering a datagram allocates
// nothing.
type packetConn struct {
	l      *eventLoop
	slot   **socket.Listener // the endpoint's slot: nil once closed
	fd     int
	family int
	local  net.Addr

	// The lifecycle of a connection (connstate.go): lifeNew, lifeOpen
	// once registered (a dialled socket: once OnOpen runs), lifeClosed.
	// The loop owns life; other goroutines read shared, whose
	// sharedCloseReq is set as closing begins (or when Close is called)
	// and before the descriptor closes.
	life   lifecycle
	shared sharedState
	// mu lets SendTo run on other goroutines: they hold it for reading
	// while they check shared and use fd, the loop holds it for writing
	// to close fd.
	mu sync.RWMutex

	// Connected (dialled) sockets only.
	dialled bool           // made by a Client's Dial, connected or not
	peer    netip.AddrPort // zero if the socket is not connected
	pending atomic.Int32   // asynchronous writes not yet run

	io    socket.PacketIO
	from  netip.AddrPort // the sender of the datagram being delivered
	view  []byte         // its unread bytes; nil outside OnTraffic
	inCb  bool           // OnTraffic is running for a datagram
	ctx   any
	codec codec.Codec

	logLimit rateLimit
}

func newPacketConn(l *eventLoop, slot **socket.Listener) *packetConn {
	pc := &packetConn{l: l, slot: slot}
	if ln := *slot; ln != nil {
		pc.fd, pc.family, pc.local = ln.Fd, ln.Family, ln.Addr
	}
	if f := l.set.codec; f != nil {
		pc.codec = f()
	}
	return pc
}

// start registers the socket with the loop. Loop goroutine.
func (pc *packetConn) start() {
	if *pc.slot == nil {
		return
	}
	pc.l.e.bufferOptions(pc.fd)
	if err := pc.l.loop.Register(pc.fd, pc, netpoll.Readable); err != nil {
		pc.l.e.fail(err)
		return
	}
	pc.life = lifeOpen
}

// stop closes the socket: no more datagrams in or out. Loop goroutine.
func (pc *packetConn) stop() {
	ln := *pc.slot
	if ln == nil {
		return
	}
	*pc.slot = nil
	pc.life = lifeClosed
	pc.shared.set(sharedCloseReq)
	pc.l.loop.Unregister(pc.fd)
	pc.mu.Lock()
	ln.Close()
	pc.mu.Unlock()
}

// HandleEvent delivers the datagrams waiting on the socket, up to
// maxDatagramsPerEvent of them. Loop goroutine.
func (pc *packetConn) HandleEvent(fd int, _ netpoll.Flags) {
	l := pc.l
	for i := 0; i < maxDatagramsPerEvent && pc.life != lifeClosed; i++ {
		n, from, truncated, err := pc.io.RecvFrom(fd, l.readBuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			// An ICMP error for an earlier send (ECONNREFUSED, say) or a
			// transient shortage: report it and go on with the socket.
			pc.report(from, os.NewSyscallError("recvmsg", err))
			if errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) {
				return
			}
			continue
		case truncated:
			l.ctr.truncated.Add(1)
			pc.report(from, ErrDatagramTruncated)
			continue
		}
		l.ctr.bytesIn.Add(uint64(n))
		l.ctr.reads.Add(1)
		pc.from, pc.view, pc.inCb = from, l.readBuf[:n:n], true
		a := pc.onTraffic()
		pc.from, pc.view, pc.inCb = netip.AddrPort{}, nil, false
		switch a {
		case Close:
			pc.closeNow(nil) // a connected socket closes; a server's carries on
			return
		case Shutdown:
			l.shutdown()
		}
	}
}

func (pc *packetConn) onTraffic() (a Action) {
	pc.safely("OnTraffic (datagram)", func() { a = pc.l.h.OnTraffic(pc) })
	return a
}

// report passes a datagram the socket could not deliver to a
// DatagramErrorHandler, or else logs it (at most once a second).
func (pc *packetConn) report(from netip.AddrPort, err error) {
	if dh, ok := pc.l.h.(DatagramErrorHandler); ok {
		pc.from, pc.inCb = from, true
		pc.safely("OnDatagramError", func() { dh.OnDatagramError(pc, err) })
		pc.from, pc.inCb = netip.AddrPort{}, false
		return
	}
	if ok, held := pc.logLimit.allow(); ok {
		pc.l.e.log.Warn("datagram dropped", zap.Error(err), zap.Stringer("from", from),
			zap.Uint64("alsoSinceLastLog", held))
	}
}

// sendTo sends p (or bs, gathered) to to, or to the connected peer when
// to is zero. Loop goroutine, or any goroutine holding mu for reading.
func (pc *packetConn) sendTo(p []byte, bs [][]byte, to netip.AddrPort) (int, error) {
	if !to.IsValid() && !pc.peer.IsValid() {
		return 0, ErrNoPeer
	}
	for {
		var n int
		var err error
		if bs != nil {
			n, err = pc.io.SendToV(pc.fd, pc.family, bs, to)
		} else {
			n, err = socket.SendTo(pc.fd, pc.family, p, to)
		}
		switch err {
		case nil:
			k := &pc.l.ctr
			k.bytesOut.Add(uint64(n))
			k.writes.Add(1)
			return n, nil
		case unix.EINTR:
			continue
		}
		return 0, os.NewSyscallError("sendto", err)
	}
}

// dest is where a write goes now: the sender of the datagram being
// delivered, or the connected peer (the zero AddrPort). Loop goroutine.
func (pc *packetConn) dest() (netip.AddrPort, error) {
	switch {
	case pc.life == lifeClosed:
		if pc.dialled {
			return netip.AddrPort{}, ErrClosed
		}
		return netip.AddrPort{}, ErrServerClosed
	case pc.inCb && pc.from.IsValid() && !pc.peer.IsValid():
		return pc.from, nil
	case pc.peer.IsValid():
		return netip.AddrPort{}, nil
	}
	return netip.AddrPort{}, ErrNoPeer
}

// openDialled registers a connected UDP socket and runs OnOpen. Loop
// goroutine.
func (pc *packetConn) openDialled() error {
	l := pc.l
	if l.closing || l.draining {
		return ErrServerClosed
	}
	if err := l.loop.Register(pc.fd, pc, netpoll.Readable); err != nil {
		return err
	}
	l.e.bufferOptions(pc.fd)
	l.ctr.accepted.Add(1)
	pc.life, pc.inCb = lifeOpen, true
	var out []byte
	var a Action
	perr := pc.safely("OnOpen (datagram)", func() { out, a = l.h.OnOpen(pc) })
	pc.inCb = false
	if perr != nil {
		pc.closeNow(perr)
		return nil
	}
	if len(out) > 0 && pc.life != lifeClosed {
		pc.Write(out)
	}
	switch a {
	case Close:
		pc.closeNow(nil)
	case Shutdown:
		l.shutdown()
	}
	return nil
}

// closeNow closes a connected socket: OnClose, then the descriptor. A
// server's sockets close with stop. Loop goroutine.
func (pc *packetConn) closeNow(err error) {
	if pc.life == lifeClosed || !pc.peer.IsValid() {
		return
	}
	pc.release(err)
}

// release ends a dialled socket, open or not: OnClose hears err (writes
// in it fail with ErrClosed), then the descriptor closes. Loop goroutine.
func (pc *packetConn) release(err error) {
	opened := pc.life == lifeOpen
	pc.life = lifeClosed
	pc.shared.set(sharedCloseReq)
	l := pc.l
	ln := *pc.slot
	*pc.slot = nil
	if opened { // registered, and counted as a connection
		l.loop.Unregister(pc.fd)
		l.ctr.closed[causeOf(err)].Add(1)
	}
	pc.inCb = true
	pc.safely("OnClose (datagram)", func() {
		if l.h.OnClose(pc, err) == Shutdown {
			l.shutdown()
		}
	})
	pc.inCb = false
	if ln != nil {
		pc.mu.Lock()
		ln.Close()
		pc.mu.Unlock()
	}
	l.conns.Add(-1)
	if l.draining {
		l.checkDrained()
	}
}

// checkDone closes a connected socket once its asynchronous writes have
// run, during a graceful shutdown. Loop goroutine.
func (pc *packetConn) checkDone() {
	if pc.l.draining && pc.pending.Load() == 0 {
		pc.closeNow(ErrServerClosed)
	}
}
