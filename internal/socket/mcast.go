//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// JoinGroup makes the datagram socket fd, of family unix.AF_INET or
// unix.AF_INET6, a member of the multicast group on interface ifi, or on
// the interface the system picks for the group when ifi is nil. An IPv4
// group takes IP_ADD_MEMBERSHIP at the IPPROTO_IP level, also on an
// AF_INET6 socket (which Linux allows for dual-stack sockets; the BSDs
// refuse); an IPv6 group takes IPV6_JOIN_GROUP and an AF_INET6 socket.
// On Linux the interface is given by index; elsewhere an IPv4 join names
// it by its first IPv4 address.
func JoinGroup(fd, family int, group netip.Addr, ifi *net.Interface) error {
	group = group.Unmap()
	if !group.IsMulticast() {
		return fmt.Errorf("socket: %s is not a multicast address", group)
	}
	if group.Is4() {
		return joinGroup4(fd, group.As4(), ifi)
	}
	if family != unix.AF_INET6 {
		return os.NewSyscallError("setsockopt", unix.EAFNOSUPPORT)
	}
	mreq := unix.IPv6Mreq{Multiaddr: group.As16()}
	if ifi != nil {
		mreq.Interface = uint32(ifi.Index)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, &mreq))
}

// SetMulticastLoopback sets whether multicast datagrams the socket fd, of
// family unix.AF_INET or unix.AF_INET6, sends are looped back to members
// on this host (IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP). The systems'
// default is on. On Linux an AF_INET6 socket gets both options, the IPv4
// one governing the IPv4 datagrams a dual-stack socket sends.
func SetMulticastLoopback(fd, family int, on bool) error {
	switch family {
	case unix.AF_INET:
		return os.NewSyscallError("setsockopt", setMulticastLoop4(fd, on))
	case unix.AF_INET6:
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, boolint(on)); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
		return os.NewSyscallError("setsockopt", setMulticastLoop4on6(fd, on))
	}
	return os.NewSyscallError("setsockopt", unix.EAFNOSUPPORT)
}
