//go:build dragonfly || freebsd || linux || netbsd

package socket

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On these systems the datagram calls are raw system calls, as Read and
// Write are on Linux: system call numbers are a stable interface here,
// and a raw call lets the socket address, message header and I/O vectors
// live on the stack or in PacketIO, so that no call allocates. The
// descriptors are non-blocking, and MSG_DONTWAIT keeps a blocking one
// from stalling the thread. Each call returns the bare errno.

// iovMax is the most buffers one sendmsg takes (IOV_MAX, 1024 on each of
// these systems).
const iovMax = 1024

// PacketIO is one socket's datagram scratch space. Its zero value is
// ready; one goroutine at a time may use it.
type PacketIO struct {
	rsa unix.RawSockaddrAny // sender of the last datagram received
	iov []unix.Iovec        // SendToV's vectors, kept for reuse
}

// RecvFrom receives one datagram into b with recvmsg(2). n is the bytes
// placed in b; truncated reports MSG_TRUNC: the datagram was longer than
// b and the rest is lost. from is the sender, an IPv4-mapped IPv6 sender
// unmapped to its 4-byte form; an IPv6 sender's non-zero scope id becomes
// its zone, in decimal. On a connected socket the errno of an ICMP error
// (ECONNREFUSED and the like) comes back here. It does not allocate.
func (p *PacketIO) RecvFrom(fd int, b []byte) (n int, from netip.AddrPort, truncated bool, err error) {
	var iov unix.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
	}
	var msg unix.Msghdr
	msg.Name = (*byte)(unsafe.Pointer(&p.rsa))
	msg.Namelen = unix.SizeofSockaddrAny
	msg.Iov = &iov
	msg.SetIovlen(1)
	r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
	if e != 0 {
		return 0, netip.AddrPort{}, false, e
	}
	return int(r), p.sender(msg.Namelen), msg.Flags&unix.MSG_TRUNC != 0, nil
}

// sender decodes the address recvmsg left in p.rsa, namelen bytes long.
func (p *PacketIO) sender(namelen uint32) netip.AddrPort {
	switch p.rsa.Addr.Family {
	case unix.AF_INET:
		if namelen < unix.SizeofSockaddrInet4 {
			break
		}
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&p.rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case unix.AF_INET6:
		if namelen < unix.SizeofSockaddrInet6 {
			break
		}
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&p.rsa))
		return inet6AddrPort(sa.Addr, getPort(&sa.Port), sa.Scope_id)
	}
	return netip.AddrPort{}
}

// SendTo sends b as one datagram to to with sendto(2) and returns the
// bytes sent. family is the socket's (unix.AF_INET or unix.AF_INET6): on
// an AF_INET6 socket an IPv4 destination goes out v4-mapped. A zero to
// sends to a connected socket's peer. It may be called from any goroutine
// and does not allocate (unless to's zone is an interface name rather
// than an index).
func SendTo(fd, family int, b []byte, to netip.AddrPort) (int, error) {
	var sa unix.RawSockaddrInet6
	ptr, salen, err := putSockaddr(&sa, family, to)
	if err != nil {
		return 0, err
	}
	var base unsafe.Pointer
	if len(b) > 0 {
		base = unsafe.Pointer(&b[0])
	}
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(base), uintptr(len(b)),
		unix.MSG_DONTWAIT, uintptr(ptr), uintptr(salen))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// SendToV sends bufs, gathered in order, as one datagram to to with
// sendmsg(2); family and to are as for SendTo. More than 1024 non-empty
// buffers yield EMSGSIZE. It uses p's scratch space (the owning goroutine
// only) and does not allocate once that has grown to the largest number
// of buffers sent.
func (p *PacketIO) SendToV(fd, family int, bufs [][]byte, to netip.AddrPort) (int, error) {
	var sa unix.RawSockaddrInet6
	ptr, salen, err := putSockaddr(&sa, family, to)
	if err != nil {
		return 0, err
	}
	iov := p.iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == iovMax {
			p.releaseIov(iov)
			return 0, unix.EMSGSIZE
		}
		var v unix.Iovec
		v.Base = &b[0]
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	var msg unix.Msghdr
	msg.Name = (*byte)(ptr)
	msg.Namelen = salen
	if len(iov) > 0 {
		msg.Iov = &iov[0]
		msg.SetIovlen(len(iov))
	}
	r, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
	p.releaseIov(iov)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// releaseIov forgets the caller's buffers and keeps iov for reuse.
func (p *PacketIO) releaseIov(iov []unix.Iovec) {
	for i := range iov {
		iov[i].Base = nil
	}
	p.iov = iov[:0]
}
