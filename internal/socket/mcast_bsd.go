//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// joinGroup4 joins an IPv4 group with an ip_mreq, which names the
// interface by one of its IPv4 addresses (INADDR_ANY: the kernel picks).
func joinGroup4(fd int, group [4]byte, ifi *net.Interface) error {
	mreq := unix.IPMreq{Multiaddr: group}
	if ifi != nil {
		a, err := interfaceAddr4(ifi)
		if err != nil {
			return err
		}
		mreq.Interface = a
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &mreq))
}

// interfaceAddr4 returns ifi's first IPv4 address.
func interfaceAddr4(ifi *net.Interface) ([4]byte, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return [4]byte{}, err
	}
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if ip4 := ip.To4(); ip4 != nil {
			return [4]byte(ip4), nil
		}
	}
	return [4]byte{}, fmt.Errorf("socket: interface %s has no IPv4 address", ifi.Name)
}

// setMulticastLoop4 sets IP_MULTICAST_LOOP, a u_char on the BSDs.
func setMulticastLoop4(fd int, on bool) error {
	return unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, byte(boolint(on)))
}

// setMulticastLoop4on6 does nothing: the BSDs take no IPv4 multicast
// options on an AF_INET6 socket, only IPV6_MULTICAST_LOOP.
func setMulticastLoop4on6(fd int, on bool) error { return nil }
