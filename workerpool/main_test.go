package workerpool

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Importing ants starts the two housekeeping goroutines of its
	// package-level default pool, (*poolCommon).purgeStaleWorkers and
	// (*poolCommon).ticktock, which live for the whole process (this package
	// never uses that pool). They already exist when TestMain runs, so
	// IgnoreCurrent ignores exactly them. IgnoreTopFunction on those two
	// names would work too, but would also hide the same goroutines of a
	// Pool that a test forgot to Release.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// newPool returns a pool that is released, and checked, when the test ends.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(t, p) })
	return p
}

// release releases p, failing the test if that takes unreasonably long, and
// checks the counters of a fully released pool.
func release(t testing.TB, p *Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	s := p.Stats()
	if s.Running != 0 || s.Waiting != 0 || s.Submitted != s.Completed+s.Failed+s.Dropped {
		t.Errorf("stats after Release: %+v", s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys) != 0 || p.workers != 0 || p.queued != 0 || p.pending != 0 {
		t.Errorf("state after Release: %d keys, %d workers, %d queued, %d pending",
			len(p.keys), p.workers, p.queued, p.pending)
	}
}

// wait waits for ch to be closed; the timeout only turns a hang into a
// failure, it does not order anything.
func wait(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// gate is a task that signals when it starts and then blocks until opened.
type gate struct {
	started chan struct{}
	open    chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) task() {
	close(g.started)
	<-g.open
}
