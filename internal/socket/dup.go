//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dup returns a non-blocking, close-on-exec duplicate of the descriptor
// behind rc, such as (*net.TCPConn).SyscallConn gives. The original is
// left open for the caller to close. The duplicate shares the open file
// description, so the O_NONBLOCK set here applies to the original too
// (the net package's descriptors are non-blocking already).
func Dup(rc syscall.RawConn) (int, error) {
	nfd, derr := -1, error(nil)
	err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl", derr)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return nfd, nil
}
