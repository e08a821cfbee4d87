//go:build linux

package socket

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// joinGroup4 joins an IPv4 group with an ip_mreqn, which names the
// interface by index (0: the kernel picks by route).
func joinGroup4(fd int, group [4]byte, ifi *net.Interface) error {
	mreq := unix.IPMreqn{Multiaddr: group}
	if ifi != nil {
		mreq.Ifindex = int32(ifi.Index)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &mreq))
}

// setMulticastLoop4 sets IP_MULTICAST_LOOP, an int on Linux.
func setMulticastLoop4(fd int, on bool) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, boolint(on))
}

// setMulticastLoop4on6 sets IP_MULTICAST_LOOP on an AF_INET6 socket too:
// Linux applies it to the IPv4 datagrams of a dual-stack socket.
func setMulticastLoop4on6(fd int, on bool) error { return setMulticastLoop4(fd, on) }
