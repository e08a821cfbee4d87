//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetNoDelay turns Nagle's algorithm off (true) or on.
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(on)))
}

// SetRecvBuffer sets SO_RCVBUF.
func SetRecvBuffer(fd, n int) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n))
}

// SetSendBuffer sets SO_SNDBUF.
func SetSendBuffer(fd, n int) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n))
}

// SetKeepAlive enables TCP keep-alive probes after d of silence and every
// d thereafter (rounded up to whole seconds), where the system lets a
// socket choose; d <= 0 disables keep-alive.
func SetKeepAlive(fd int, d time.Duration) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(d > 0)); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if d <= 0 {
		return nil
	}
	secs := int((d + time.Second - 1) / time.Second)
	return os.NewSyscallError("setsockopt", setKeepAlivePeriod(fd, secs))
}

// Err returns the error pending on a socket (SO_ERROR), or nil.
func Err(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return os.NewSyscallError("read", unix.Errno(v))
	}
	return nil
}

// SetLinger sets SO_LINGER as net.TCPConn.SetLinger does: sec < 0 turns
// it off (close returns at once and the kernel sends what is left in the
// background), sec == 0 makes close drop unsent data and reset the
// connection, sec > 0 makes close wait up to sec seconds for it to go.
func SetLinger(fd, sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}
