//go:build darwin || openbsd

package socket

import (
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// macOS and OpenBSD allow system calls only through libc (OpenBSD 7.5 and
// later refuse raw ones outright), and golang.org/x/sys reaches libc's
// recvmsg only through unix.Recvmsg, which allocates the sender's
// address. So RecvFrom allocates once per datagram here; SendTo and
// SendToV reuse their socket addresses and do not. Each call returns the
// bare errno.

// PacketIO is one socket's datagram scratch space. Its zero value is
// ready; one goroutine at a time may use it.
type PacketIO struct {
	to  destAddr // SendToV's destination
	buf []byte   // SendToV's gathered datagram, kept for reuse
}

// RecvFrom receives one datagram into b with recvmsg(2). n is the bytes
// placed in b; truncated reports MSG_TRUNC: the datagram was longer than
// b and the rest is lost. from is the sender, an IPv4-mapped IPv6 sender
// unmapped to its 4-byte form; an IPv6 sender's non-zero scope id becomes
// its zone, in decimal. On a connected socket the errno of an ICMP error
// (ECONNREFUSED and the like) comes back here. On this system it
// allocates the sender's address (see above).
func (p *PacketIO) RecvFrom(fd int, b []byte) (n int, from netip.AddrPort, truncated bool, err error) {
	n, _, flags, sa, err := unix.Recvmsg(fd, b, nil, 0)
	if err != nil {
		return 0, netip.AddrPort{}, false, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		from = inet6AddrPort(sa.Addr, uint16(sa.Port), sa.ZoneId)
	}
	return n, from, flags&unix.MSG_TRUNC != 0, nil
}

// destAddr holds a destination in the form unix.Sendto takes.
type destAddr struct {
	sa4 unix.SockaddrInet4
	sa6 unix.SockaddrInet6
}

// set stores to for a socket of family and returns it as a unix.Sockaddr,
// nil for a zero to; errors are putSockaddr's.
func (d *destAddr) set(family int, to netip.AddrPort) (unix.Sockaddr, error) {
	if !to.IsValid() {
		return nil, nil
	}
	a := to.Addr()
	switch family {
	case unix.AF_INET:
		if !a.Is4() && !a.Is4In6() {
			return nil, unix.EAFNOSUPPORT
		}
		d.sa4 = unix.SockaddrInet4{Port: int(to.Port()), Addr: a.Unmap().As4()}
		return &d.sa4, nil
	case unix.AF_INET6:
		id, err := zoneIndex(a.Zone())
		if err != nil {
			return nil, unix.EINVAL
		}
		d.sa6 = unix.SockaddrInet6{Port: int(to.Port()), ZoneId: id, Addr: a.As16()}
		return &d.sa6, nil
	}
	return nil, unix.EAFNOSUPPORT
}

// dests recycles SendTo's destinations, which escape to the heap through
// the unix.Sockaddr interface.
var dests = sync.Pool{New: func() any { return new(destAddr) }}

// SendTo sends b as one datagram to to with sendto(2) and returns the
// bytes sent. family is the socket's (unix.AF_INET or unix.AF_INET6): on
// an AF_INET6 socket an IPv4 destination goes out v4-mapped. A zero to
// sends to a connected socket's peer. It may be called from any goroutine
// and does not allocate (unless to's zone is an interface name rather
// than an index).
func SendTo(fd, family int, b []byte, to netip.AddrPort) (int, error) {
	d := dests.Get().(*destAddr)
	sa, err := d.set(family, to)
	if err == nil {
		err = unix.Sendto(fd, b, 0, sa)
	}
	dests.Put(d)
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// SendToV sends bufs, gathered in order, as one datagram to to; family
// and to are as for SendTo. golang.org/x/sys has no allocation-free
// gathering sendmsg here, so the buffers are copied into p's scratch
// space (the owning goroutine only) and sent with sendto(2); it does not
// allocate once that has grown to the largest datagram sent.
func (p *PacketIO) SendToV(fd, family int, bufs [][]byte, to netip.AddrPort) (int, error) {
	sa, err := p.to.set(family, to)
	if err != nil {
		return 0, err
	}
	buf := p.buf[:0]
	for _, b := range bufs {
		buf = append(buf, b...)
	}
	p.buf = buf[:0]
	if err := unix.Sendto(fd, buf, 0, sa); err != nil {
		return 0, err
	}
	return len(buf), nil
}
