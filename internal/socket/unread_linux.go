//go:build linux

package socket

import "golang.org/x/sys/unix"

// Unread is how many bytes wait in the socket's receive queue, not yet
// read (0 if the system cannot tell).
func Unread(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		return 0
	}
	return n
}
