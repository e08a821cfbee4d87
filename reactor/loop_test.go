//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/netpoll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// started creates a loop, sets *lp (before the loop runs, so hooks in
// cfg may use it), runs it, and stops it when the test ends.
func started(t *testing.T, cfg Config, lp **Loop) {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	*lp = l
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// start is started for a configuration whose hooks do not need the loop.
func start(t *testing.T, cfg Config) *Loop {
	t.Helper()
	var l *Loop
	started(t, cfg, &l)
	return l
}

// on runs fn on the loop and waits for it.
func on(t *testing.T, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Post(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

type recorder struct {
	mu     sync.Mutex
	events []netpoll.Flags
	got    chan struct{}
	onEv   func(fd int)
}

func (r *recorder) HandleEvent(fd int, f netpoll.Flags) {
	buf := make([]byte, 64)
	unix.Read(fd, buf)
	r.mu.Lock()
	r.events = append(r.events, f)
	r.mu.Unlock()
	if r.onEv != nil {
		r.onEv(fd)
	}
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func pair(t *testing.T) (int, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(fds[0], true)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestDispatchAndUnregister(t *testing.T) {
	l := start(t, Config{LockOSThread: true, CPU: NoCPU})
	a, b := pair(t)
	r := &recorder{got: make(chan struct{}, 1)}
	on(t, l, func() {
		if err := l.Register(a, r, netpoll.Readable); err != nil {
			t.Error(err)
		}
		if err := l.Register(a, r, netpoll.Readable); err == nil {
			t.Error("double registration accepted")
		}
	})
	unix.Write(b, []byte("hi"))
	select {
	case <-r.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no event dispatched")
	}
	on(t, l, func() {
		if l.Registered() != 1 {
			t.Errorf("Registered = %d", l.Registered())
		}
		l.Unregister(a)
	})
	unix.Write(b, []byte("again"))
	select {
	case <-r.got:
		t.Fatal("event after Unregister")
	case <-time.After(30 * time.Millisecond):
	}
}

// Events already returned by a poll for a descriptor that a handler
// earlier in the same batch unregistered must not be delivered.
func TestStaleEventInSameBatchDropped(t *testing.T) {
	l := start(t, Config{CPU: NoCPU})
	a1, b1 := pair(t)
	a2, b2 := pair(t)
	var second atomic.Int32
	r2 := &recorder{got: make(chan struct{}, 1), onEv: func(int) { second.Add(1) }}
	r1 := &recorder{got: make(chan struct{}, 1)}
	r1.onEv = func(int) { l.Unregister(a2); l.Unregister(a1) }
	r2.onEv = func(int) { second.Add(1); l.Unregister(a1); l.Unregister(a2) }
	on(t, l, func() {
		l.Register(a1, r1, netpoll.Readable)
		l.Register(a2, r2, netpoll.Readable)
	})
	// Both become readable before the loop polls.
	on(t, l, func() {
		unix.Write(b1, []byte("x"))
		unix.Write(b2, []byte("x"))
	})
	time.Sleep(50 * time.Millisecond)
	r1.mu.Lock()
	n1 := len(r1.events)
	r1.mu.Unlock()
	r2.mu.Lock()
	n2 := len(r2.events)
	r2.mu.Unlock()
	if n1+n2 != 1 {
		t.Fatalf("handlers ran %d and %d times; the first must unregister the second", n1, n2)
	}
}

func TestTasksRunInOrderAndAllRunBeforeStop(t *testing.T) {
	l, err := New(Config{CPU: NoCPU, TaskBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := 0; i < 100; i++ {
		i := i
		if err := l.Post(func() { got = append(got, i) }); err != nil {
			t.Fatal(err)
		}
	}
	l.Stop() // before Run: queued tasks still run
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("task %d ran as %d", i, v)
		}
	}
	if len(got) != 100 {
		t.Fatalf("%d of 100 tasks ran", len(got))
	}
	if err := l.Post(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Post after stop = %v", err)
	}
	if err := l.Run(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Run = %v", err)
	}
}

func TestManyProducers(t *testing.T) {
	l := start(t, Config{CPU: NoCPU, TaskBatch: 16})
	const producers, each = 8, 5000
	var count [producers]int
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				want := i
				l.Post(func() {
					if count[p] != want {
						t.Errorf("producer %d: task %d ran as %d", p, want, count[p])
					}
					count[p]++
				})
			}
		}(p)
	}
	wg.Wait()
	on(t, l, func() {
		for p, c := range count {
			if c != each {
				t.Errorf("producer %d: %d tasks ran", p, c)
			}
		}
	})
}

// A flood of tasks must not starve I/O: with a small batch, events are
// dispatched while tasks keep arriving.
func TestTaskFloodDoesNotStarveIO(t *testing.T) {
	l := start(t, Config{CPU: NoCPU, TaskBatch: 4})
	a, b := pair(t)
	r := &recorder{got: make(chan struct{}, 1)}
	on(t, l, func() { l.Register(a, r, netpoll.Readable) })
	stop := make(chan struct{})
	var resubmit func()
	resubmit = func() {
		select {
		case <-stop:
		default:
			l.Post(resubmit)
			l.Post(resubmit)
		}
	}
	l.Post(resubmit)
	unix.Write(b, []byte("x"))
	select {
	case <-r.got:
	case <-time.After(5 * time.Second):
		t.Fatal("I/O starved by a task flood")
	}
	close(stop)
	on(t, l, func() { l.Unregister(a) })
}

func TestTimers(t *testing.T) {
	l := start(t, Config{CPU: NoCPU})
	fired := make(chan int, 10)
	var cancelled *Timer
	// Measured from before the timers are armed: the loop reads its clock
	// when it wakes for the task, after this, so the 30 ms timer cannot
	// fire sooner than 30 ms from here, however late this goroutine runs.
	start := time.Now()
	on(t, l, func() {
		l.AfterFunc(30*time.Millisecond, func() { fired <- 3 })
		l.AfterFunc(10*time.Millisecond, func() { fired <- 1 })
		cancelled = l.AfterFunc(20*time.Millisecond, func() { fired <- 2 })
		l.AfterFunc(0, func() { fired <- 0 })
	})
	on(t, l, func() {
		if !l.StopTimer(cancelled) {
			t.Error("StopTimer on a pending timer = false")
		}
		if l.StopTimer(cancelled) {
			t.Error("StopTimer twice = true")
		}
	})
	for _, want := range []int{0, 1, 3} {
		select {
		case got := <-fired:
			if got != want {
				t.Fatalf("timer %d fired, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timer did not fire")
		}
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Fatalf("30ms timer fired after %v", el)
	}
	select {
	case <-fired:
		t.Fatal("cancelled timer fired")
	case <-time.After(20 * time.Millisecond):
	}
}

func TestCloseUnstarted(t *testing.T) {
	l, err := New(Config{CPU: NoCPU})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	l.Post(func() { ran = true })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if !ran {
		t.Fatal("queued task dropped by Close")
	}
	if err := l.Run(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}
}
