//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package netpoll

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.SetNonblock(fd, true)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// events waits once and returns the events by fd, merging kqueue's
// separate read and write reports.
func events(t *testing.T, p *Poller, timeout time.Duration) map[int]Event {
	t.Helper()
	n, err := p.Wait(timeout)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]Event{}
	for i := 0; i < n; i++ {
		ev := p.Event(i)
		prev := m[ev.Fd]
		ev.Flags |= prev.Flags
		m[ev.Fd] = ev
	}
	return m
}

func TestReadWriteInterestAndGeneration(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, 7, Readable); err != nil {
		t.Fatal(err)
	}
	if evs := events(t, p, 0); len(evs) != 0 {
		t.Fatalf("events on an idle socket: %v", evs)
	}
	unix.Write(b, []byte("x"))
	ev, ok := events(t, p, time.Second)[a]
	if !ok || ev.Flags&In == 0 || ev.Gen != 7 {
		t.Fatalf("readable event = %+v, %v", ev, ok)
	}
	// Level-triggered: still readable until read.
	if _, ok := events(t, p, 0)[a]; !ok {
		t.Fatal("level-triggered readiness was lost")
	}
	unix.Read(a, make([]byte, 8))
	if err := p.Modify(a, 8, Readable|Writable); err != nil {
		t.Fatal(err)
	}
	ev = events(t, p, time.Second)[a]
	if ev.Flags&Out == 0 || ev.Gen != 8 {
		t.Fatalf("writable event = %+v", ev)
	}
	if err := p.Modify(a, 8, Readable); err != nil {
		t.Fatal(err)
	}
	if evs := events(t, p, 0); len(evs) != 0 {
		t.Fatalf("write interest not removed: %v", evs)
	}
	if err := p.Delete(a); err != nil {
		t.Fatal(err)
	}
	unix.Write(b, []byte("y"))
	if evs := events(t, p, 10*time.Millisecond); len(evs) != 0 {
		t.Fatalf("events after Delete: %v", evs)
	}
}

func TestHangup(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	p.Add(a, 1, Readable)
	unix.Write(b, []byte("last"))
	unix.Shutdown(b, unix.SHUT_WR)
	ev := events(t, p, time.Second)[a]
	if ev.Flags&In == 0 || ev.Flags&Hangup == 0 {
		t.Fatalf("peer shutdown event = %+v", ev)
	}
}

func TestWakeUnblocksAndCoalesces(t *testing.T) {
	p := newPoller(t)
	// Wake before Arm costs nothing and does not make Wait return.
	p.Wake()
	if n, _ := p.Wait(0); n != 0 {
		t.Fatalf("wake-up reported as an event")
	}
	p.Arm()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(20 * time.Millisecond)
			for j := 0; j < 100; j++ {
				p.Wake()
			}
		}()
	}
	start := time.Now()
	n, err := p.Wait(5 * time.Second)
	if err != nil || n != 0 {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wake did not unblock Wait (%v)", d)
	}
	wg.Wait()
	// All those wake-ups coalesced into at most one pending write, which
	// the next poll consumes without reporting it.
	p.Wait(0)
	p.Arm()
	start = time.Now()
	p.Wait(30 * time.Millisecond)
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("a stale wake-up made a later Wait return early")
	}
}

func TestEventBufferGrows(t *testing.T) {
	p := newPoller(t)
	const n = 3 * initialEvents
	for i := 0; i < n; i++ {
		a, b := socketPair(t)
		p.Add(a, uint32(i), Readable)
		unix.Write(b, []byte("x"))
	}
	first, _ := p.Wait(time.Second)
	if first != initialEvents {
		t.Fatalf("first wait returned %d, want a full buffer of %d", first, initialEvents)
	}
	if second, _ := p.Wait(time.Second); second <= initialEvents {
		t.Fatalf("buffer did not grow: %d events", second)
	}
}
