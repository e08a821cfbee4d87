//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
	"github.com/mill-io/mill/reactor"
)

// dialing is a connection attempt that the loop completes: the socket's
// non-blocking connect is under way, and the loop waits for it to turn
// writable (or for the timeout, or the caller's context) without a
// goroutine of its own. Loop goroutine, apart from its creation.
type dialing struct {
	c       *conn
	network string
	addr    net.Addr // for errors
	timer   *reactor.Timer
	stopCtx func() bool // unhooks the caller's context, if any
	notify  func(Conn, error)
	ctx     context.Context // the caller's: bounds a TLS handshake too
	polled  bool            // registered with the loop
	over    bool            // connected or failed
}

// dial connects to address and serves the connection on a loop: OnOpen
// runs once it is established; if it cannot be, OnClose runs with the
// reason. notify, if not nil, hears the outcome on the loop after
// OnOpen (or OnClose). Name resolution, if address needs any, runs on
// the calling goroutine, bounded by lookup (ctx when nil). ctx bounds
// the attempt. The connection's Context is connCtx from the start.
func (e *engine) dial(ctx, lookup context.Context, network, address string, connCtx any, cfg *tls.Config, notify func(Conn, error)) {
	if lookup == nil {
		lookup = ctx
		if t := e.set.dialTimeout; t > 0 {
			var cancel context.CancelFunc
			lookup, cancel = context.WithTimeout(ctx, t)
			defer cancel()
		}
	}
	to, path, err := socket.ResolveDial(lookup, network, address)
	if err == nil {
		err = ctx.Err()
	}
	if socket.IsPacket(network) {
		e.dialPacket(network, to, err, connCtx, notify)
		return
	}
	c := e.newConn(-1, to, nil)
	c.ctx = connCtx
	if cfg != nil {
		c.attachTLS(cfg, true, nil) // the dial's outcome waits for the handshake: established
	}
	d := &dialing{c: c, network: network, addr: dialAddr(network, to, path), notify: notify, ctx: ctx}
	if err == nil {
		c.fd, err = socket.Connect(network, to, path, socket.Options{BindToDevice: e.set.bindToDevice})
	}
	l := c.loop
	inProgress := err == unix.EINPROGRESS
	if inProgress {
		err = nil
	}
	if l.loop.Post(func() { l.connect(ctx, d, inProgress, err) }) != nil {
		// The loop has stopped: no OnClose, since the attempt never
		// reached it; the caller hears.
		if c.fd >= 0 {
			unix.Close(c.fd)
		}
		l.conns.Add(-1)
		if notify != nil {
			notify(nil, ErrServerClosed)
		}
	}
}

// connect takes a dial over on its loop. Loop goroutine.
func (l *eventLoop) connect(ctx context.Context, d *dialing, inProgress bool, err error) {
	c := d.c
	if err == nil {
		err = ctx.Err()
	}
	switch {
	case err != nil:
		d.fail(err)
	case l.closing || l.draining:
		d.fail(ErrServerClosed)
	case !inProgress:
		d.established()
	default:
		if err := l.loop.Register(c.fd, d, netpoll.Writable); err != nil {
			d.fail(err)
			return
		}
		d.polled = true
		if t := l.set.dialTimeout; t > 0 {
			d.timer = l.loop.AfterFunc(t, func() { d.timer = nil; d.fail(ErrDialTimeout) })
		}
		if ctx.Done() != nil {
			d.stopCtx = context.AfterFunc(ctx, func() {
				l.loop.Post(func() { d.fail(ctx.Err()) })
			})
		}
	}
}

// HandleEvent hears that the connect finished, one way or the other.
func (d *dialing) HandleEvent(fd int, f netpoll.Flags) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		d.fail(os.NewSyscallError("getsockopt", err))
		return
	case v != 0:
		d.fail(os.NewSyscallError("connect", unix.Errno(v)))
		return
	}
	if f&netpoll.Out == 0 {
		return // not yet
	}
	d.c.loop.loop.Unregister(fd)
	d.polled = false
	d.established()
}

// established serves the connected socket as a conn.
func (d *dialing) established() {
	c, l := d.c, d.c.loop
	if l.closing || l.draining {
		d.fail(ErrServerClosed)
		return
	}
	d.finish()
	l.e.tune(c.fd, c.remote.IsValid())
	if c.isTLS() {
		// The handshake tells the caller (handshakeDone, or OnClose's
		// handshakeNotify); unless the conn could not even open. The
		// caller's context bounds the handshake as it bounded the
		// connect.
		s := c.slow.tls
		s.notify, d.notify = d.notify, nil
		if ctx := d.ctx; ctx.Done() != nil {
			s.stopCtx = context.AfterFunc(ctx, func() {
				l.loop.Post(func() {
					if c.handshaking() {
						c.closeNow(handshakeError(ctx.Err()))
					}
				})
			})
		}
	}
	l.hand(c, true)
	if d.notify != nil {
		d.notify(c, c.openErr())
	} else if c.isTLS() && c.closed() && !c.opened() {
		c.slow.tls.err = c.openErr()
		c.handshakeNotify()
	}
}

// fail ends an attempt that did not connect: OnClose hears why, then
// the caller. It does nothing once the attempt is over.
func (d *dialing) fail(err error) {
	if d.over {
		return
	}
	d.finish()
	c, l := d.c, d.c.loop
	if d.polled {
		l.loop.Unregister(c.fd)
	}
	if err != ErrServerClosed {
		err = &net.OpError{Op: "dial", Net: d.network, Addr: d.addr, Err: err}
	}
	c.markClosed()
	c.run("OnClose", func() Action { return l.h.OnClose(c, err) }) // without OnOpen: the attempt failed
	if c.fd >= 0 {
		c.closeFD() // after OnClose, as for any connection
	}
	l.conns.Add(-1)
	if d.notify != nil {
		d.notify(nil, err)
	}
	if l.draining {
		l.checkDrained()
	}
}

func (d *dialing) finish() {
	d.over = true
	if d.timer != nil {
		d.c.loop.loop.StopTimer(d.timer)
		d.timer = nil
	}
	if d.stopCtx != nil {
		d.stopCtx()
	}
}

// openErr is nil if c is open after OnOpen, else why it is not.
func (c *conn) openErr() error {
	if c.closed() || !c.opened() {
		if err := c.closeErr(); err != nil {
			return err
		}
		return ErrClosed
	}
	return nil
}

func dialAddr(network string, to netip.AddrPort, path string) net.Addr {
	switch {
	case network == "unix":
		return &net.UnixAddr{Name: path, Net: "unix"}
	case !to.IsValid():
		return nil
	case socket.IsPacket(network):
		return net.UDPAddrFromAddrPort(to)
	}
	return net.TCPAddrFromAddrPort(to)
}

// dialPacket opens a UDP socket connected to to and serves it on a loop
// as a PacketConn: connecting a datagram socket completes at once. If err
// (from the lookup) or the socket fails, the attempt still goes to the
// loop, whose OnClose hears why, as for a stream dial.
func (e *engine) dialPacket(network string, to netip.AddrPort, err error, connCtx any, notify func(Conn, error)) {
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	i := e.bal.Pick(to, e.view)
	if i < 0 || i >= len(e.loops) {
		i = 0
	}
	l := e.loops[i]
	var ln *socket.Listener
	pc := newPacketConn(l, &ln)
	pc.fd = -1
	pc.dialled = true
	pc.peer = to
	pc.ctx = connCtx
	if err == nil {
		pc.fd, err = socket.Connect(network, to, "", socket.Options{BindToDevice: e.set.bindToDevice})
	}
	if err == nil {
		pc.family = unix.AF_INET6
		if to.Addr().Is4() || to.Addr().Is4In6() {
			pc.family = unix.AF_INET
		}
		if sa, err := unix.Getsockname(pc.fd); err == nil {
			pc.local = net.UDPAddrFromAddrPort(socket.ToAddrPort(sa))
		}
		ln = &socket.Listener{Fd: pc.fd, Family: pc.family, Addr: pc.local}
	}
	l.conns.Add(1)
	open := func() {
		if err == nil {
			err = pc.openDialled()
		}
		if err != nil {
			pc.failDial(network, to, err, notify)
			return
		}
		if notify != nil {
			var err error
			if pc.life == lifeClosed {
				err = ErrClosed
			}
			notify(pc, err)
		}
	}
	if l.loop.Post(open) != nil {
		// The loop has stopped: no OnClose, as for a stream dial.
		if pc.fd >= 0 {
			unix.Close(pc.fd)
		}
		l.conns.Add(-1)
		if notify != nil {
			notify(nil, ErrServerClosed)
		}
	}
}

// failDial ends a UDP attempt that did not get going: OnClose hears why
// (writes fail with ErrClosed meanwhile), then the descriptor closes and
// the caller hears. Loop goroutine.
func (pc *packetConn) failDial(network string, to netip.AddrPort, err error, notify func(Conn, error)) {
	if err != ErrServerClosed {
		var addr net.Addr
		if to.IsValid() {
			addr = net.UDPAddrFromAddrPort(to)
		}
		err = &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	pc.release(err)
	if notify != nil {
		notify(nil, err)
	}
}
