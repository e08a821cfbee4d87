//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"runtime"
	"sync/atomic"
)

// goroutineID returns the calling goroutine's id, as the runtime prints
// it at the head of a stack trace ("goroutine 42 [running]:"). It costs
// about a microsecond, so it is for calls that are about to block (Dial,
// Shutdown), never for the loop's hot path.
func goroutineID() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id uint64
	for _, ch := range b[len(prefix):] {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}

// runner remembers which goroutine runs a loop.
type runner struct{ id atomic.Uint64 }

func (r *runner) enter() { r.id.Store(goroutineID()) }
func (r *runner) leave() { r.id.Store(0) }

// OnLoop reports whether the calling goroutine is the one running l, so
// that a call which would wait for the loop (and so for itself) can
// refuse instead of hanging. Any goroutine; about a microsecond.
func (l *Loop) OnLoop() bool {
	id := l.runner.id.Load()
	return id != 0 && id == goroutineID()
}
