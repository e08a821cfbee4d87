//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import "github.com/mill-io/mill/netpoll"

// Handler receives readiness events for the descriptors it registered.
type Handler interface {
	// HandleEvent runs on the loop goroutine when fd is ready. It must
	// not block. It may register, modify or unregister descriptors,
	// including fd itself.
	HandleEvent(fd int, flags netpoll.Flags)
}
