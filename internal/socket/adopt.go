//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotListener refuses a descriptor to adopt that is not a listening
// stream socket.
var ErrNotListener = errors.New("not a listening stream socket")

// Adopt takes over fd, a listening TCP or Unix stream socket the process
// did not open here (inherited, or another listener's duplicate): it
// duplicates it (close-on-exec), makes the duplicate non-blocking (the
// flag belongs to the socket, so the original turns non-blocking too,
// as Go's own listeners are) and checks what it is. The caller keeps fd,
// and may close it. Closing the returned Listener never removes a Unix
// socket file: mill did not create it.
func Adopt(fd int) (*Listener, error) {
	syscall.ForkLock.RLock()
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	l, err := adopted(nfd)
	if err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return l, nil
}

func adopted(fd int) (*Listener, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	if typ != unix.SOCK_STREAM || acc == 0 {
		return nil, ErrNotListener
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	var family int
	switch sa.(type) {
	case *unix.SockaddrInet4:
		family = unix.AF_INET
	case *unix.SockaddrInet6:
		family = unix.AF_INET6
	case *unix.SockaddrUnix:
		family = unix.AF_UNIX
	default:
		return nil, fmt.Errorf("%w: unsupported address family", ErrNotListener)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	return &Listener{Fd: fd, Family: family, Addr: ToAddr(sa)}, nil
}

// Network names a listener's network as the server's addresses do.
func (l *Listener) Network() string {
	switch l.Family {
	case unix.AF_INET:
		return "tcp4"
	case unix.AF_INET6:
		return "tcp6"
	}
	return "unix"
}

// Dup returns a close-on-exec duplicate of the listener's socket, for
// another process to take over. From then on Close leaves a Unix socket
// file alone: the successor serves it.
func (l *Listener) Dup() (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.FcntlInt(uintptr(l.Fd), unix.F_DUPFD_CLOEXEC, 0)
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("fcntl", err)
	}
	l.path = ""
	return fd, nil
}
