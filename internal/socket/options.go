//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"os"

	"golang.org/x/sys/unix"
)

// Options are applied to listening and packet sockets before bind (and,
// for BindToDevice only, to sockets Connect opens). Unix sockets ignore
// them.
type Options struct {
	// ReuseAddr sets SO_REUSEADDR: a TCP listener may bind a port that
	// connections in TIME_WAIT still hold.
	ReuseAddr bool
	// ReusePort lets several sockets bind the same address and port, the
	// kernel spreading incoming connections or datagrams among them. It
	// sets SO_REUSEPORT on Linux (3.9 and later) and DragonFly, which
	// balance; SO_REUSEPORT_LB on FreeBSD (12 and later), whose plain
	// SO_REUSEPORT does not balance; and SO_REUSEPORT on macOS, NetBSD and
	// OpenBSD, where the sockets share the port but unicast traffic goes
	// to only one of them (multicast datagrams reach all).
	ReusePort bool
	// BindToDevice restricts the socket to one network interface, by
	// name, with SO_BINDTODEVICE. Linux only: a non-empty value is an
	// error elsewhere.
	BindToDevice string
}

// applyOptions sets o on a fresh socket, before bind or connect.
func applyOptions(fd int, o Options) error {
	if o.ReuseAddr {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if o.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, reusePortOpt, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if o.BindToDevice != "" {
		return bindToDevice(fd, o.BindToDevice)
	}
	return nil
}
