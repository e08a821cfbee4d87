package workerpool

import "sync/atomic"

// Stats is a snapshot of a Pool's counters. Each field is read atomically
// on its own; while tasks are flowing the fields are not mutually
// consistent. Once Release has returned nil,
// Submitted == Completed + Failed + Dropped and Running == Waiting == 0.
type Stats struct {
	Submitted uint64 // tasks accepted by a Submit method
	Running   int64  // tasks executing now
	Waiting   int64  // accepted tasks not started yet (at most Capacity)
	Completed uint64 // tasks that returned normally
	Failed    uint64 // tasks that panicked or called runtime.Goexit
	Rejected  uint64 // submissions refused because the pool was full (ErrPoolOverload, or ctx ended while blocked)
	Dropped   uint64 // accepted tasks discarded unstarted because a Release context ended
}

type counters struct {
	submitted atomic.Uint64
	running   atomic.Int64
	waiting   atomic.Int64
	completed atomic.Uint64
	failed    atomic.Uint64
	rejected  atomic.Uint64
	dropped   atomic.Uint64
}

// Stats returns the pool's counters. It takes no lock and may be called
// from any goroutine, at any time, including after Release.
func (p *Pool) Stats() Stats {
	return Stats{
		Submitted: p.stats.submitted.Load(),
		Running:   p.stats.running.Load(),
		Waiting:   p.stats.waiting.Load(),
		Completed: p.stats.completed.Load(),
		Failed:    p.stats.failed.Load(),
		Rejected:  p.stats.rejected.Load(),
		Dropped:   p.stats.dropped.Load(),
	}
}
