//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// ToAddr converts a socket address to a net.Addr: *net.TCPAddr for IPv4
// and IPv6, *net.UnixAddr for Unix sockets, nil for anything else.
func ToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: make(net.IP, net.IPv6len), Port: sa.Port}
		copy(a.IP, sa.Addr[:])
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			} else {
				a.Zone = strconv.Itoa(int(sa.ZoneId))
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// toUDPAddr converts an IPv4 or IPv6 socket address to a *net.UDPAddr,
// the zone named as ToAddr names it; anything else yields nil.
func toUDPAddr(sa unix.Sockaddr) *net.UDPAddr {
	ta, ok := ToAddr(sa).(*net.TCPAddr)
	if !ok {
		return nil
	}
	return &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone}
}

// ToUDPAddr converts ap, as RecvFrom reports senders, to a *net.UDPAddr
// for callers that want a net.Addr. It allocates.
func ToUDPAddr(ap netip.AddrPort) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(ap)
}

// zoneIndex turns an IPv6 zone, an interface index in decimal (as
// ToAddrPort and RecvFrom write it) or an interface name, into the index.
// The decimal form costs no allocation; a name is looked up.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if zone[0] >= '0' && zone[0] <= '9' {
		if id, err := strconv.ParseUint(zone, 10, 32); err == nil {
			return uint32(id), nil
		}
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// ToAddrPort converts an IPv4 or IPv6 socket address to a netip.AddrPort
// without allocating; anything else yields the zero AddrPort. An IPv6 zone
// is kept as the interface index.
func ToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			a = a.WithZone(strconv.Itoa(int(sa.ZoneId)))
		}
		return netip.AddrPortFrom(a, uint16(sa.Port))
	}
	return netip.AddrPort{}
}
