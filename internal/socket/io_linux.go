//go:build linux

package socket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The hot-path calls below are raw system calls: the descriptors are
// non-blocking, so the calls never block and need not tell the Go
// scheduler about themselves. Each returns the bare errno (EAGAIN and
// EINTR included) for the caller's read or write loop to interpret.

// Read reads into p from a non-blocking fd.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// Write writes p to a non-blocking fd.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// Vec is per-loop scratch space for Writev; its zero value is ready.
type Vec struct{ iov []unix.Iovec }

// Writev writes the buffers in order with one writev call (at most
// maxIovecs of them) and returns the bytes written. Empty buffers are
// skipped. Loop goroutine only: v is scratch space.
func (v *Vec) Writev(fd int, bufs [][]byte) (int, error) {
	iov := v.iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == maxIovecs {
			break
		}
		var io unix.Iovec
		io.Base = &b[0]
		io.SetLen(len(b))
		iov = append(iov, io)
	}
	if len(iov) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	for i := range iov {
		iov[i].Base = nil // keep no caller memory alive
	}
	v.iov = iov[:0]
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
