//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"net"
	"net/netip"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
)

// How a connection comes to be. Every kind — accepted (admit), adopted
// (Client.Enroll) and dialled (Client.Dial, once the connect completes)
// — takes the same path, as every socket in Go's net comes from
// socket(): tune sets the socket options, newConn makes the conn on the
// loop it will live on and counts it there, hand takes it to that loop
// (undoing the count and the socket if the loop has stopped), and open
// registers it and runs OnOpen through start.

// admit sets up an accepted descriptor and hands it to home, or when
// home is nil to the loop the balancer picks. It runs on the loop that
// accepted it: the main loop, or home.
func (e *engine) admit(fd int, sa unix.Sockaddr, a *acceptor) {
	if m := e.s.opts.maxConns; m > 0 && e.countConnections() >= m {
		e.refused.Add(1)
		unix.Close(fd) // over the cap: refuse at once, without a busy loop
		return
	}
	remote := socket.ToAddrPort(sa)
	if pol := a.proxy; pol != nil && !pol.trusts(remote.Addr()) {
		unix.Close(fd) // a header must never be believed from it: refused before it costs anything
		e.proxy.record(e.log, net.TCPAddrFromAddrPort(remote), proxyError(ErrProxyUntrusted))
		return
	}
	e.tune(fd, a.ep.TCP)
	c := e.newConn(fd, remote, a.home)
	if a.proxy != nil {
		c.attachProxy(a.proxy)
	}
	if a.tls != nil {
		c.attachTLS(a.tls, false, nil)
	}
	c.loop.hand(c, a.home != nil)
}

// tune applies the connection socket options to a new connection's
// socket: TCP_NODELAY and keep-alive for TCP, the buffer sizes for all.
// A failure is only noted: the peer may already have reset the
// connection, and reading will tell. Any goroutine.
func (e *engine) tune(fd int, tcp bool) {
	set := e.set
	if tcp {
		e.sockopt(socket.SetNoDelay(fd, set.tcpNoDelay))
		if set.tcpKeepAlive > 0 {
			e.sockopt(socket.SetKeepAlive(fd, set.tcpKeepAlive))
		}
	}
	e.bufferOptions(fd)
}

// bufferOptions applies WithSocketRecvBuffer and WithSocketSendBuffer
// (to UDP sockets too). Any goroutine.
func (e *engine) bufferOptions(fd int) {
	set := e.set
	if set.recvBuffer > 0 {
		e.sockopt(socket.SetRecvBuffer(fd, set.recvBuffer))
	}
	if set.sendBuffer > 0 {
		e.sockopt(socket.SetSendBuffer(fd, set.sendBuffer))
	}
}

func (e *engine) sockopt(err error) {
	if err != nil {
		e.log.Debug("socket option", zap.Error(err))
	}
}

// newConn makes the conn for fd (-1 for a dial not yet connected), on l
// or, when l is nil, on the loop the balancer picks, and counts it
// there. Any goroutine.
func (e *engine) newConn(fd int, remote netip.AddrPort, l *eventLoop) *conn {
	// A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6: show
	// them, and let balancers hash them, as the IPv4 they are.
	c := &conn{fd: fd, remote: netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())}
	if l == nil {
		i := e.bal.Pick(c.remote, e.view)
		if i < 0 || i >= len(e.loops) {
			i = 0 // a misbehaving custom balancer must not crash the server
		}
		l = e.loops[i]
	}
	c.loop = l
	c.in.Init(&e.pool, 0)
	c.out.Init(&e.pool, l.set.writeBufferMin)
	l.conns.Add(1)
	return c
}

// hand takes a new conn to its loop and opens it there: at once when
// the caller is that loop (onLoop), otherwise through the loop's task
// queue. If the loop has stopped, the conn is undone — its count dropped,
// its socket closed, and handles to it see it closed — and hand reports
// ErrServerClosed. Any goroutine.
func (l *eventLoop) hand(c *conn, onLoop bool) error {
	l.ctr.accepted.Add(1)
	if onLoop {
		l.open(c)
		return nil
	}
	if l.loop.Post(func() { l.open(c) }) != nil {
		c.shared.set(sharedCloseReq)
		l.conns.Add(-1)
		c.closeFD()
		return ErrServerClosed
	}
	return nil
}

// open registers c and runs OnOpen. Loop goroutine.
func (l *eventLoop) open(c *conn) {
	if l.closing || l.draining {
		l.refuse(c)
		return
	}
	if err := l.loop.Register(c.fd, c, netpoll.Readable); err != nil {
		l.log.Error("register connection", zap.Error(err))
		l.refuse(c)
		return
	}
	c.markRegistered()
	switch {
	case c.awaitsProxy():
		c.beginProxy() // then the handshake, or start
	case c.isTLS():
		c.beginTLS() // start runs once the handshake is done
	default:
		l.start(c)
	}
}

// refuse closes a conn that never opened. Handles to it (from Enroll or
// Dial) see it closed, so nothing reaches the descriptor number once it
// is reused. Loop goroutine.
func (l *eventLoop) refuse(c *conn) {
	c.markClosed()
	c.closeFD()
	l.conns.Add(-1)
}

// start runs OnOpen for a registered conn. Loop goroutine.
func (l *eventLoop) start(c *conn) {
	if f := l.set.codec; f != nil {
		c.codec = f()
	}
	c.startTimeouts()
	c.markOpen()
	c.run("OnOpen", func() Action {
		out, a := l.h.OnOpen(c)
		if len(out) > 0 && !c.doomed() {
			c.Write(out) // an error dooms c, which then closes with it
		}
		return a
	})
}
