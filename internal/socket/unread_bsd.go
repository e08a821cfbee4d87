//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// fionread is FIONREAD, _IOR('f', 127, int), the same on every BSD and
// macOS (x/sys/unix does not export it there).
const fionread = 0x4004667f

// Unread is how many bytes wait in the socket's receive queue, not yet
// read (0 if the system cannot tell).
func Unread(fd int) int {
	n, err := unix.IoctlGetInt(fd, fionread)
	if err != nil {
		return 0
	}
	return n
}
