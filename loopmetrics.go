//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"slices"
	"sync/atomic"
	"time"
)

// Loop metrics (WithLoopMetrics): each loop counts its busy time
// (reactor.Config.Metrics), and a sampler goroutine gives every loop a
// probe task each interval, stamped with when it was given; the loop
// records how late it ran it. A handler that blocks its loop shows up
// here: the probes given meanwhile run late by as much.

// lagBounds are the lag histogram's upper bounds.
var lagBounds = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second,
}

// lagCounters is one loop's lag histogram.
type lagCounters struct {
	counts [15]atomic.Uint64 // len(lagBounds)+1
	sum    atomic.Int64
}

func (h *lagCounters) observe(d time.Duration) {
	i := 0
	for i < len(lagBounds) && d > lagBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot reads the histogram; Count is the sum of the counts read,
// so the two always agree (Sum may lag a probe behind). Before the first
// probe the histogram is empty, Bounds included.
func (h *lagCounters) snapshot() LagHistogram {
	s := LagHistogram{Bounds: slices.Clone(lagBounds), Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	if s.Count == 0 {
		return LagHistogram{}
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// sampleLag gives every loop a probe task each interval until stop
// closes. It runs on a goroutine of its own, which Serve waits for.
func (e *engine) sampleLag(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, l := range e.loops {
			given := time.Now()
			l.loop.Post(func() { l.lag.observe(time.Since(given)) })
		}
	}
}
