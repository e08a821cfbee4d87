//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"sync"
	"sync/atomic"
)

// taskQueue is a multi-producer, single-consumer queue of functions.
// Producers append under a mutex; the consumer swaps the whole backlog
// out in one lock and then runs it in bounded batches without locking, so
// producers contend only with each other and with one swap per batch.
type taskQueue struct {
	mu      sync.Mutex
	shared  []func()
	closed  bool
	pending atomic.Int32 // len(shared), readable without the lock

	local []func() // owned by the consumer
	pos   int
}

// push appends fn; it reports false once the queue is closed.
func (q *taskQueue) push(fn func()) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.shared = append(q.shared, fn)
	q.pending.Store(int32(len(q.shared)))
	q.mu.Unlock()
	return true
}

// queued reports how many tasks wait in the shared backlog (those the
// consumer has already taken are not counted). Any goroutine.
func (q *taskQueue) queued() int { return int(q.pending.Load()) }

// empty reports whether nothing is waiting to run. Consumer only.
func (q *taskQueue) empty() bool {
	return q.pos == len(q.local) && q.pending.Load() == 0
}

// run runs at most max tasks, taking a new backlog when the current one
// is done. It returns how many ran. Consumer only.
func (q *taskQueue) run(max int) int {
	ran := 0
	for ran < max {
		if q.pos == len(q.local) {
			if !q.swap() {
				break
			}
		}
		fn := q.local[q.pos]
		q.local[q.pos] = nil // let the closure be collected
		q.pos++
		ran++
		fn()
	}
	return ran
}

func (q *taskQueue) swap() bool {
	if q.pending.Load() == 0 {
		return false
	}
	q.mu.Lock()
	q.local, q.shared = q.shared, q.local[:0]
	q.pending.Store(0)
	q.mu.Unlock()
	q.pos = 0
	return len(q.local) > 0
}

// close refuses further pushes. Tasks pushed before it still run.
func (q *taskQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}
