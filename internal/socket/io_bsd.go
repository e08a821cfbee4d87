//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// On the BSDs and macOS system calls go through libc, so these are thin
// wrappers. Each returns the bare errno (EAGAIN and EINTR included) for
// the caller's read or write loop to interpret.

// Read reads into p from a non-blocking fd.
func Read(fd int, p []byte) (int, error) {
	n, err := unix.Read(fd, p)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Write writes p to a non-blocking fd.
func Write(fd int, p []byte) (int, error) {
	n, err := unix.Write(fd, p)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Vec is per-loop scratch space for Writev; its zero value is ready.
type Vec struct{}

// Writev writes the buffers in order and returns the bytes written.
// golang.org/x/sys offers no writev on these systems, so it issues one
// write per buffer and stops at the first short write or error (an error
// after some bytes were written is dropped: the next call reports it).
func (v *Vec) Writev(fd int, bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := unix.Write(fd, b)
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		total += n
		if n < len(b) {
			break
		}
	}
	return total, nil
}
