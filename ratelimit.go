package mill

import (
	"sync/atomic"
	"time"
)

// rateLimit lets a log line through at most once a second and counts
// the ones it held back, so that a flood of one kind of event costs a
// line a second, which says how many it stands for. Any goroutine.
type rateLimit struct {
	next    atomic.Int64 // unix nanoseconds before which lines are held back
	dropped atomic.Uint64
}

// allow reports whether a line may be logged now and, if so, how many
// were held back since the last one.
func (r *rateLimit) allow() (bool, uint64) {
	now := time.Now().UnixNano()
	next := r.next.Load()
	if now < next || !r.next.CompareAndSwap(next, now+int64(time.Second)) {
		r.dropped.Add(1)
		return false, 0
	}
	return true, r.dropped.Swap(0)
}
