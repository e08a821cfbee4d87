//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Connect opens a non-blocking, close-on-exec socket and connects it to a
// peer. For network tcp, tcp4 or tcp6 it is a stream socket whose connect
// it starts, to being the peer (tcp picks the family from the address;
// tcp4 wants an IPv4 or v4-mapped address, tcp6 a true IPv6 one); for
// udp, udp4 or udp6, with the same address rules, a datagram socket whose
// connect completes at once; for unix, a stream socket, path being the
// peer (a leading '@' names a Linux abstract socket) and to ignored. Of o
// only BindToDevice applies, and not to unix.
//
// It returns the descriptor and a nil error when the connection is made
// at once; the descriptor and the bare unix.EINPROGRESS when it is under
// way (EINTR from connect(2) means the same), after which the caller
// waits for the socket to be writable and reads the outcome from SO_ERROR; or
// -1 and an error, the socket closed: an *os.SyscallError for a failed
// system call (EAGAIN from a Unix socket means the peer's backlog is
// full) or an address the network does not take (EAFNOSUPPORT), and a
// plain error for an unknown network or an IPv6 zone naming no interface.
func Connect(network string, to netip.AddrPort, path string, o Options) (fd int, err error) {
	var family int
	var sa unix.Sockaddr
	typ := unix.SOCK_STREAM
	switch network {
	case "udp", "udp4", "udp6":
		typ = unix.SOCK_DGRAM
		network = "tcp" + network[3:] // the same address rules
		fallthrough
	case "tcp", "tcp4", "tcp6":
		a := to.Addr()
		v4 := a.Is4() || a.Is4In6()
		switch {
		case !to.IsValid():
			return -1, os.NewSyscallError("connect", unix.EINVAL)
		case network == "tcp4" && !v4, network == "tcp6" && v4:
			return -1, os.NewSyscallError("connect", unix.EAFNOSUPPORT)
		}
		if v4 {
			family = unix.AF_INET
			sa = &unix.SockaddrInet4{Port: int(to.Port()), Addr: a.Unmap().As4()}
		} else {
			id, err := zoneIndex(a.Zone())
			if err != nil {
				return -1, err
			}
			family = unix.AF_INET6
			sa = &unix.SockaddrInet6{Port: int(to.Port()), ZoneId: id, Addr: a.As16()}
		}
	case "unix":
		if path == "" {
			return -1, os.NewSyscallError("connect", unix.EINVAL)
		}
		family = unix.AF_UNIX
		sa = &unix.SockaddrUnix{Name: path}
	default:
		return -1, fmt.Errorf("socket: unsupported network %q", network)
	}
	fd, err = newSocket(family, typ)
	if err != nil {
		return -1, err
	}
	if family != unix.AF_UNIX && o.BindToDevice != "" {
		if err := bindToDevice(fd, o.BindToDevice); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return fd, nil
	case unix.EINPROGRESS, unix.EINTR:
		return fd, unix.EINPROGRESS
	default:
		unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
}
