//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Helpers shared by the datagram calls of packet_raw.go and
// packet_libc.go. Socket address ports are in network (big-endian) byte
// order whatever the host's.

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// putSockaddr writes to into buf as the address a socket of family takes
// (a v4 destination becomes v4-mapped on an AF_INET6 socket) and returns
// a pointer to it and its length. A zero to yields a nil pointer: the
// datagram goes to the connected peer. It returns a bare errno:
// EAFNOSUPPORT for an IPv6 destination on an AF_INET socket or an unknown
// family, EINVAL for a zone that names no interface.
func putSockaddr(buf *unix.RawSockaddrInet6, family int, to netip.AddrPort) (unsafe.Pointer, uint32, error) {
	if !to.IsValid() {
		return nil, 0, nil
	}
	a := to.Addr()
	switch family {
	case unix.AF_INET:
		if !a.Is4() && !a.Is4In6() {
			return nil, 0, unix.EAFNOSUPPORT
		}
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(buf))
		initInet4(sa)
		putPort(&sa.Port, to.Port())
		sa.Addr = a.Unmap().As4()
		return unsafe.Pointer(sa), unix.SizeofSockaddrInet4, nil
	case unix.AF_INET6:
		initInet6(buf)
		putPort(&buf.Port, to.Port())
		buf.Addr = a.As16()
		if z := a.Zone(); z != "" {
			id, err := zoneIndex(z)
			if err != nil {
				return nil, 0, unix.EINVAL
			}
			buf.Scope_id = id
		}
		return unsafe.Pointer(buf), unix.SizeofSockaddrInet6, nil
	}
	return nil, 0, unix.EAFNOSUPPORT
}

// inet6AddrPort builds a sender's address from AF_INET6 parts: a
// v4-mapped address comes back unmapped, and a non-zero scope id becomes
// the zone, in decimal.
func inet6AddrPort(addr [16]byte, port uint16, scope uint32) netip.AddrPort {
	a := netip.AddrFrom16(addr)
	if a.Is4In6() {
		a = a.Unmap()
	} else if scope != 0 {
		a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
	}
	return netip.AddrPortFrom(a, port)
}
