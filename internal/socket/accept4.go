//go:build linux || freebsd || dragonfly

package socket

import (
	"golang.org/x/sys/unix"
)

// Accept accepts one connection as a non-blocking, close-on-exec
// descriptor. It returns the bare errno for EAGAIN, EINTR and
// ECONNABORTED so the accept loop can decide; other errors are wrapped.
func Accept(lfd int) (int, unix.Sockaddr, error) {
	fd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, nil, acceptErr(err)
	}
	return fd, sa, nil
}
