//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"net/netip"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
	"github.com/mill-io/mill/reactor"
)

// eventLoop is one sub-reactor: a reactor.Loop plus what mill keeps per
// loop. Everything but conns belongs to the loop goroutine.
type eventLoop struct {
	e       *engine
	h       Handler
	loop    *reactor.Loop
	readBuf []byte        // every read on this loop lands here first
	vec     socket.Vec    // writev scratch
	iov     [2][]byte     // a ring's two halves, for writev
	encBuf  []byte        // WriteFrame's encode scratch
	epoch   time.Time     // origin of mono()
	closing bool          // closeAll ran: refuse new connections
	accs    []*acceptor   // per-loop listening sockets (WithReusePort)
	packets []*packetConn // UDP sockets this loop serves
	// batchWrites: WithWriteBatching; batched lists the conns whose
	// output waits for the end of the iteration (flushBatched).
	batchWrites bool
	batched     []*conn
	// draining: a graceful shutdown is closing connections as they go
	// quiet; drainDone hears when none is left.
	draining  bool
	drainDone chan<- struct{}
	// shutdown asks the server to shut down (Action Shutdown); set when
	// the loop is made.
	shutdown func()

	_     [64]byte     // keep the counters below off the cache lines above
	conns atomic.Int64 // open connections, including ones in transit to the loop
	ctr   loopCounters
}

// Conns reports the loop's connections, for balancers. Any goroutine.
func (l *eventLoop) Conns() int { return int(l.conns.Load()) }

// admit sets up an accepted descriptor and hands it to home, or when
// home is nil to the loop the balancer picks. It runs on the loop that
// accepted it: the main loop, or home.
func (e *engine) admit(fd int, sa unix.Sockaddr, ep *endpoint, home *eventLoop) {
	o := &e.s.opts
	if o.maxConns > 0 && e.countConnections() >= o.maxConns {
		e.refused.Add(1)
		unix.Close(fd) // over the cap: refuse at once, without a busy loop
		return
	}
	if ep.tcp {
		e.sockopt(socket.SetNoDelay(fd, o.tcpNoDelay))
		if o.tcpKeepAlive > 0 {
			e.sockopt(socket.SetKeepAlive(fd, o.tcpKeepAlive))
		}
	}
	e.bufferOptions(fd)
	c := e.newConn(fd, socket.ToAddrPort(sa), home)
	l := c.loop
	l.ctr.accepted.Add(1)
	if home != nil {
		l.open(c)
		return
	}
	if l.loop.Submit(func() { l.open(c) }) != nil {
		l.conns.Add(-1)
		unix.Close(fd)
	}
}

// bufferOptions applies WithSocketRecvBuffer and WithSocketSendBuffer.
func (e *engine) bufferOptions(fd int) {
	o := &e.s.opts
	if o.recvBuffer > 0 {
		e.sockopt(socket.SetRecvBuffer(fd, o.recvBuffer))
	}
	if o.sendBuffer > 0 {
		e.sockopt(socket.SetSendBuffer(fd, o.sendBuffer))
	}
}

// newConn makes the conn for fd, on l or, when l is nil, on the loop the
// balancer picks, and counts it there. Any goroutine.
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
	c.out.Init(&e.pool, e.s.opts.writeBufferCap)
	l.conns.Add(1)
	return c
}

func (e *engine) sockopt(err error) {
	if err != nil {
		// The peer may already have reset the connection; reading will
		// tell. Nothing to do but note it.
		e.log.Debug("socket option", zap.Error(err))
	}
}

// open registers c and runs OnOpen. Loop goroutine.
func (l *eventLoop) open(c *conn) {
	if l.closing || l.draining {
		l.refuse(c)
		return
	}
	if err := l.loop.Register(c.fd, c, netpoll.Readable); err != nil {
		l.e.log.Error("register connection", zap.Error(err))
		l.refuse(c)
		return
	}
	l.start(c)
}

// refuse closes a conn that never opened. Handles to it (from Enroll or
// Dial) see it closed, so nothing reaches the descriptor number once it
// is reused. Loop goroutine.
func (l *eventLoop) refuse(c *conn) {
	c.markClosed()
	unix.Close(c.fd)
	l.conns.Add(-1)
}

// start runs OnOpen for a registered conn. Loop goroutine.
func (l *eventLoop) start(c *conn) {
	if f := l.e.s.opts.codec; f != nil {
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

// closeAll stops listening, closes every connection with ErrServerClosed
// and refuses new ones. Loop goroutine (or the goroutine that ran the
// loop, after Run).
func (l *eventLoop) closeAll() {
	l.closing = true
	l.stopListening()
	l.loop.Each(func(_ int, h reactor.Handler) bool {
		switch h := h.(type) {
		case *conn:
			h.closeNow(ErrServerClosed)
		case *dialing:
			h.fail(ErrServerClosed)
		case *packetConn:
			h.closeNow(ErrServerClosed)
		}
		return true
	})
}

// startListening registers the loop's own listening and UDP sockets.
// Loop goroutine.
func (l *eventLoop) startListening() {
	for _, a := range l.accs {
		a.start()
	}
	for _, p := range l.packets {
		p.start()
	}
}

// stopListening closes the loop's own listening and UDP sockets. Loop
// goroutine.
func (l *eventLoop) stopListening() {
	for _, a := range l.accs {
		a.stop()
	}
	for _, p := range l.packets {
		p.stop()
	}
}
