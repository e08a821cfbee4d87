//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/netpoll"
)

// work is what a test leaves for BeforeWait: the hook reports each
// non-empty batch it finds on done. Loop goroutine only, but for done.
type work struct {
	pending []string
	done    chan []string
}

func (w *work) hook() {
	if len(w.pending) > 0 {
		w.done <- w.pending
		w.pending = nil
	}
}

func (w *work) expect(t *testing.T, want ...string) {
	t.Helper()
	select {
	case got := <-w.done:
		if len(got) != len(want) {
			t.Fatalf("BeforeWait found %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("BeforeWait found %q, want %q", got, want)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("BeforeWait did not run for %q", want)
	}
}

// BeforeWait runs after the events of a poll, before the loop blocks
// again: the loop, with no timer and nothing else to wake it, must not
// wait for another event to get there.
func TestBeforeWaitAfterEvents(t *testing.T) {
	w := &work{done: make(chan []string, 4)}
	l := start(t, Config{CPU: NoCPU, BeforeWait: w.hook})
	a, b := pair(t)
	r := &recorder{got: make(chan struct{}, 1), onEv: func(int) { w.pending = append(w.pending, "event") }}
	on(t, l, func() {
		if err := l.Register(a, r, netpoll.Readable); err != nil {
			t.Error(err)
		}
	})
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "event")
}

// BeforeWait runs after the iteration's tasks, so work they leave is
// seen before the loop blocks; tasks that BeforeWait submits run before
// the loop blocks too.
func TestBeforeWaitAfterTasks(t *testing.T) {
	w := &work{done: make(chan []string, 4)}
	resubmitted := make(chan struct{})
	once := true
	var l *Loop
	started(t, Config{CPU: NoCPU, BeforeWait: func() {
		w.hook()
		if once {
			once = false
			// Nothing but this task can wake the loop now.
			l.Post(func() { close(resubmitted) })
		}
	}}, &l)
	select {
	case <-resubmitted:
	case <-time.After(5 * time.Second):
		t.Fatal("a task BeforeWait submitted did not run: the loop blocked")
	}
	l.Post(func() { w.pending = append(w.pending, "task1") })
	l.Post(func() { w.pending = append(w.pending, "task2") })
	// The two tasks may run in one iteration or two.
	got := []string{}
	for len(got) < 2 {
		select {
		case b := <-w.done:
			got = append(got, b...)
		case <-time.After(5 * time.Second):
			t.Fatalf("BeforeWait saw %q, want task1 and task2", got)
		}
	}
	if got[0] != "task1" || got[1] != "task2" {
		t.Fatalf("BeforeWait saw %q", got)
	}
}

// A loop that stops runs BeforeWait once more after its last tasks.
func TestBeforeWaitWhenStopping(t *testing.T) {
	w := &work{done: make(chan []string, 4)}
	l, err := New(Config{CPU: NoCPU, BeforeWait: w.hook})
	if err != nil {
		t.Fatal(err)
	}
	// Queued before Run and Stop: the loop runs them on its way out.
	l.Post(func() { w.pending = append(w.pending, "last") })
	l.Stop()
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "last")

	// A loop released with Close does the same on the closing goroutine.
	w2 := &work{done: make(chan []string, 4)}
	l2, err := New(Config{CPU: NoCPU, BeforeWait: w2.hook})
	if err != nil {
		t.Fatal(err)
	}
	l2.Post(func() { w2.pending = append(w2.pending, "closed") })
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	w2.expect(t, "closed")
}

// sleepsOf reads how many polls of l could block, from a task on l.
func sleepsOf(t *testing.T, l *Loop) uint64 {
	var n uint64
	on(t, l, func() { n = l.sleeps })
	return n
}

// With BusyPoll, a loop that keeps getting work never blocks in the
// poller, and blocks again once it has had none for BusyPoll; without,
// it blocks between tasks that arrive apart.
func TestBusyPoll(t *testing.T) {
	const tasks = 30
	stream := func(l *Loop) {
		for i := 0; i < tasks; i++ {
			on(t, l, func() {})
			time.Sleep(time.Millisecond)
		}
	}

	plain := start(t, Config{CPU: NoCPU})
	before := sleepsOf(t, plain)
	stream(plain)
	if n := sleepsOf(t, plain) - before; n < tasks/2 {
		t.Errorf("without BusyPoll: %d blocking polls for %d tasks 1 ms apart", n, tasks)
	}

	spinning := start(t, Config{CPU: NoCPU, BusyPoll: time.Hour})
	a, b := pair(t)
	r := &recorder{got: make(chan struct{}, 1)}
	on(t, spinning, func() {
		if err := spinning.Register(a, r, netpoll.Readable); err != nil {
			t.Error(err)
		}
	})
	unix.Write(b, []byte("x"))
	<-r.got
	before = sleepsOf(t, spinning)
	stream(spinning)
	if n := sleepsOf(t, spinning) - before; n != 0 {
		t.Errorf("BusyPoll: %d blocking polls within the busy-poll window", n)
	}

	brief := start(t, Config{CPU: NoCPU, BusyPoll: 10 * time.Millisecond})
	before = sleepsOf(t, brief)
	deadline := time.Now().Add(5 * time.Second)
	for sleepsOf(t, brief) == before {
		if time.Now().After(deadline) {
			t.Fatal("BusyPoll: the loop never blocked again after the work stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
