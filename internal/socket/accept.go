//go:build darwin || netbsd || openbsd

package socket

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Accept accepts one connection as a non-blocking, close-on-exec
// descriptor. These systems have no accept4 in golang.org/x/sys, so the
// flags are set afterwards under syscall.ForkLock, as the standard
// library does, so that no child process inherits the descriptor. It
// returns the bare errno for EAGAIN, EINTR and ECONNABORTED.
func Accept(lfd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	fd, sa, err := unix.Accept(lfd)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, acceptErr(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, nil, os.NewSyscallError("fcntl", err)
	}
	return fd, sa, nil
}
