package workerpool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{Size: -1}, {Capacity: -1}, {IdleTimeout: -1}} {
		if p, err := New(cfg); err == nil {
			release(t, p)
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	p := newPool(t, Config{})
	if p.size != DefaultSize || p.capacity != DefaultCapacityPerWorker*DefaultSize {
		t.Errorf("defaults: size %d, capacity %d", p.size, p.capacity)
	}
	if err := p.Submit(nil); !errors.Is(err, ErrNilTask) {
		t.Errorf("Submit(nil) = %v", err)
	}
}

// TestKeyedOrder submits thousands of tasks over many keys, one submitting
// goroutine per key plus unkeyed noise, and checks that each key's tasks ran
// one at a time and in submission order.
func TestKeyedOrder(t *testing.T) {
	const keys, perKey = 64, 200
	p := newPool(t, Config{Size: 8, Capacity: 256, Blocking: true})
	var (
		seen     [keys][]int // seen[k] is only touched by key k's tasks
		inflight [keys]atomic.Int32
		noise    atomic.Int64
		wg       sync.WaitGroup
	)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perKey {
				err := p.SubmitKeyed(uint64(k), func() {
					if n := inflight[k].Add(1); n != 1 {
						t.Errorf("key %d: %d tasks running at once", k, n)
					}
					if w := p.Stats().Waiting; w > 256 {
						t.Errorf("%d tasks waiting, Capacity is 256", w)
					}
					seen[k] = append(seen[k], i)
					inflight[k].Add(-1)
				})
				if err != nil {
					t.Errorf("SubmitKeyed: %v", err)
					return
				}
				if i%4 == 0 {
					if err := p.Submit(func() { noise.Add(1) }); err != nil {
						t.Errorf("Submit: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	release(t, p)
	for k := range keys {
		if len(seen[k]) != perKey {
			t.Fatalf("key %d ran %d tasks, want %d", k, len(seen[k]), perKey)
		}
		for i, v := range seen[k] {
			if v != i {
				t.Fatalf("key %d: task %d ran in position %d", k, v, i)
			}
		}
	}
	s := p.Stats()
	if want := uint64(keys*perKey) + uint64(noise.Load()); s.Submitted != want || s.Completed != want || s.Failed != 0 {
		t.Errorf("stats %+v, want %d submitted and completed", s, want)
	}
}

// TestKeysRunInParallel runs two keyed tasks that each wait for the other to
// start: they finish only if different keys really run in parallel.
func TestKeysRunInParallel(t *testing.T) {
	p := newPool(t, Config{Size: 2})
	parallel(t, p)
}

func parallel(t *testing.T, p *Pool) {
	t.Helper()
	a, b, done := make(chan struct{}), make(chan struct{}), make(chan struct{}, 2)
	if err := p.SubmitKeyed(1, func() { close(a); <-b; done <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := p.SubmitKeyed(2, func() { close(b); <-a; done <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	wait(t, a, "key 1")
	wait(t, b, "key 2")
	<-done
	<-done
}

func TestReentrantSubmit(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	var order []int
	done := make(chan struct{})
	err := p.SubmitKeyed(3, func() {
		order = append(order, 1)
		if err := p.SubmitKeyed(3, func() { order = append(order, 3); close(done) }); err != nil {
			t.Error(err)
		}
		order = append(order, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, done, "nested task")
	if len(order) != 3 || order[0] != 1 || order[1] != 2 || order[2] != 3 {
		t.Errorf("order %v", order)
	}
}

func TestOverloadNonBlocking(t *testing.T) {
	p := newPool(t, Config{Size: 2, Capacity: 3})
	g1, g2 := newGate(), newGate()
	for i, g := range []*gate{g1, g2} {
		// Handed straight to idle workers: not counted against Capacity.
		if err := p.SubmitKeyed(uint64(i+1), g.task); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, g1.started, "g1")
	wait(t, g2.started, "g2")
	var ran atomic.Int32
	task := func() { ran.Add(1) }
	// Per-key queues count toward Capacity: two behind key 1, one unkeyed.
	for _, err := range []error{p.SubmitKeyed(1, task), p.SubmitKeyed(1, task), p.Submit(task)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Submit(task); !errors.Is(err, ErrPoolOverload) {
		t.Fatalf("Submit on a full pool: %v", err)
	}
	if err := p.SubmitKeyed(9, task); !errors.Is(err, ErrPoolOverload) {
		t.Fatalf("SubmitKeyed on a full pool: %v", err)
	}
	if s := p.Stats(); s.Rejected != 2 || s.Waiting != 3 || s.Running != 2 || s.Submitted != 5 {
		t.Errorf("stats %+v", s)
	}
	close(g1.open)
	close(g2.open)
	release(t, p)
	if ran.Load() != 3 {
		t.Errorf("%d queued tasks ran, want 3", ran.Load())
	}
}

// fullBlockingPool returns a Blocking pool of one worker, held by the
// returned gate, and one queued task, so that the next Submit must wait.
// Every Submit about to wait sends on the returned channel.
func fullBlockingPool(t *testing.T) (*Pool, *gate, <-chan struct{}) {
	t.Helper()
	p := newPool(t, Config{Size: 1, Capacity: 1, Blocking: true})
	waiting := make(chan struct{}, 8)
	p.testHookWait = func() { waiting <- struct{}{} }
	g := newGate()
	if err := p.Submit(g.task); err != nil {
		t.Fatal(err)
	}
	wait(t, g.started, "blocker")
	if err := p.Submit(func() {}); err != nil {
		t.Fatal(err)
	}
	return p, g, waiting
}

func TestBlockingWaitsForRoom(t *testing.T) {
	p, g, waiting := fullBlockingPool(t)
	ran := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- p.SubmitKeyed(5, func() { close(ran) }) }()
	<-waiting // the Submit is blocked: it has not returned, nothing changed
	if s := p.Stats(); s.Waiting != 1 || s.Submitted != 2 {
		t.Errorf("stats while blocked: %+v", s)
	}
	close(g.open)
	if err := <-errc; err != nil {
		t.Fatalf("blocked SubmitKeyed: %v", err)
	}
	wait(t, ran, "blocked task")
}

func TestBlockingContext(t *testing.T) {
	p, g, waiting := fullBlockingPool(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.SubmitContext(ctx, func() { t.Error("ran") }) }()
	<-waiting
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("SubmitContext = %v, want Canceled", err)
	}
	if s := p.Stats(); s.Rejected != 1 {
		t.Errorf("stats %+v", s)
	}
	close(g.open)
}

func TestBlockingUnblockedByRelease(t *testing.T) {
	p, g, waiting := fullBlockingPool(t)
	errc := make(chan error, 1)
	go func() { errc <- p.SubmitKeyedContext(context.Background(), 1, func() { t.Error("ran") }) }()
	<-waiting
	released := make(chan error, 1)
	go func() { released <- p.Release(context.Background()) }()
	if err := <-errc; !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("blocked Submit during Release = %v, want ErrPoolClosed", err)
	}
	close(g.open) // accepted tasks still run; then Release completes
	if err := <-released; err != nil {
		t.Fatalf("Release: %v", err)
	}
	if s := p.Stats(); s.Completed != 2 || s.Rejected != 0 {
		t.Errorf("stats %+v", s)
	}
}
