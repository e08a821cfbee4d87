//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill/netpoll"
)

// ErrClosed is returned by Post once the loop has finished (Run has
// returned, or Close released it), and by Run and Close on a loop that
// was already run or closed. A loop merely stopped before it ran still
// runs: see Run.
var ErrClosed = errors.New("reactor: loop closed")

// DefaultTaskBatch is how many submitted tasks a loop runs per iteration
// when Config.TaskBatch is zero.
const DefaultTaskBatch = 256

// Config configures a Loop. The zero value is a loop locked to no thread
// and pinned to no CPU; mill turns thread locking on by default.
type Config struct {
	// LockOSThread locks the loop goroutine to its OS thread while it runs.
	LockOSThread bool
	// Pin pins the loop's thread to CPU (Linux only; implies
	// LockOSThread). The thread stays locked to the goroutine that ran
	// Run, and ends with it. Without Pin, CPU means nothing, so the zero
	// Config pins nothing.
	Pin bool
	// CPU is the CPU that Pin pins to.
	CPU int
	// TaskBatch bounds how many submitted tasks run between two polls,
	// so that a flood of tasks cannot starve I/O. Zero means
	// DefaultTaskBatch.
	TaskBatch int
	// BeforeWait, if set, runs on the loop goroutine once per iteration,
	// after the iteration's tasks and before the loop polls (and perhaps
	// blocks) for events again, and once more after the last tasks when
	// the loop stops. Whatever the previous poll's events, timers and
	// this iteration's tasks left to do at the end of an iteration (a
	// batch of output to send, say) belongs here. Tasks it submits run
	// before the loop blocks (in the final call, the queue is closed and
	// refuses them).
	BeforeWait func()
	// BusyPoll, if positive, keeps the loop polling without blocking for
	// up to this long after the last poll that returned events or an
	// iteration that ran tasks, before it sleeps in the poller again. A
	// loop under steady load then never sleeps, so nothing has to wake
	// it: a wake-up costs the waker (a peer writing from another CPU,
	// a goroutine submitting a task) a few microseconds of kernel time,
	// which on a busy machine is the peer's throughput. The price is up
	// to BusyPoll of spinning after each burst, on a thread that holds
	// its P meanwhile.
	BusyPoll time.Duration
	// Metrics makes the loop count the time it spends working rather
	// than waiting for events (Busy), at the cost of two clock reads per
	// iteration; off, it costs nothing.
	Metrics bool
}

// NoCPU is a Config.CPU value that names no CPU. Without Config.Pin no
// value pins anything; it remains for code written when a CPU of -1 was
// how to say so.
const NoCPU = -1

const (
	stateRunning int32 = iota // also the state of a loop not yet run
	stateStopping
	stateDone
)

type slot struct {
	h        Handler
	gen      uint32
	detached bool // Detach took fd out of the poller; SetInterest puts it back
}

// The fd table is paged, so that growing it never copies or discards
// slots: a server with many connections keeps exactly the pages it uses.
const (
	pageShift = 10
	pageSize  = 1 << pageShift
)

type slotPage [pageSize]slot

// slot returns fd's slot, or nil if its page does not exist.
func (l *Loop) slot(fd int) *slot {
	if p := fd >> pageShift; p < len(l.pages) && l.pages[p] != nil {
		return &l.pages[p][fd&(pageSize-1)]
	}
	return nil
}

// Loop is one event loop. Create it with New, run it with Run on the
// goroutine that is to become the loop goroutine, stop it with Stop.
type Loop struct {
	poller  *netpoll.Poller
	cfg     Config
	started atomic.Bool // Run or Close was called
	state   atomic.Int32
	done    chan struct{}
	tasks   taskQueue
	pages   []*slotPage // fd table: pages[fd>>pageShift][fd&(pageSize-1)]
	nfds    int
	lastGen uint32
	timers  timerHeap
	now     time.Time // cached by Now until the next poll returns
	nowSet  bool
	// spinUntil: with Config.BusyPoll, polls do not block before this.
	spinUntil time.Time
	sleeps    uint64 // polls that could block (for tests)
	runner    runner // the goroutine in Run, for OnLoop
	// With Config.Metrics: when Run began, and the time it has spent
	// blocked in the poller since (nanoseconds).
	// With Config.Metrics, in nanoseconds: the busy time of the spans
	// that ended (each from a wake-up to the next blocking wait), when
	// the current span began (0 while the loop waits, or once Run has
	// returned), and the most Busy has reported (it never goes back).
	busyDone  atomic.Int64
	busySince atomic.Int64
	busyMax   atomic.Int64
}

// Busy is how long the loop has spent running since Run began, other
// than blocked waiting for events: handling them, running tasks and
// timers. It is 0 unless Config.Metrics is set. Any goroutine.
func (l *Loop) Busy() time.Duration {
	b := l.busyDone.Load()
	if since := l.busySince.Load(); since != 0 {
		b += time.Now().UnixNano() - since
	}
	for {
		// The two reads above may straddle the end of a span: report
		// no less than before, so that the figure only grows.
		prev := l.busyMax.Load()
		if b <= prev {
			return time.Duration(prev)
		}
		if l.busyMax.CompareAndSwap(prev, b) {
			return time.Duration(b)
		}
	}
}

// spanEnds adds the busy span that began at busySince; spanBegins starts
// one. With Config.Metrics only. Loop goroutine.
func (l *Loop) spanEnds(now int64) {
	if since := l.busySince.Swap(0); since != 0 {
		l.busyDone.Add(now - since)
	}
}

func (l *Loop) spanBegins(now int64) { l.busySince.Store(now) }

// New creates a loop and its poller. It fails if cfg.Pin names a
// negative CPU or the system cannot pin; a CPU outside the process's
// affinity mask makes Run fail instead (see CheckCPU).
func New(cfg Config) (*Loop, error) {
	if cfg.Pin && (cfg.CPU < 0 || !affinitySupported) {
		return nil, fmt.Errorf("reactor: cannot pin to CPU %d: %w", cfg.CPU, CheckCPU(cfg.CPU))
	}
	if cfg.TaskBatch <= 0 {
		cfg.TaskBatch = DefaultTaskBatch
	}
	p, err := netpoll.New()
	if err != nil {
		return nil, err
	}
	return &Loop{poller: p, cfg: cfg, done: make(chan struct{})}, nil
}

// yieldEvery is how often, at most, a loop passes through the Go
// scheduler (checked once per iteration, so a busy loop does so about
// this often).
// A goroutine that never does (a loop's goroutine blocks only in system
// calls, which do not count) looks stuck to the runtime's monitor after
// 10 ms, which then tries to preempt it with a signal on every one of
// its 20 µs rounds, failing while the goroutine is in a system call, and
// stays awake doing so. On one CPU that cost a pipelined HTTP server
// about 2,000 extra wake-ups a second and 7 % more CPU per request
// (docs/benchmarks.md). Yielding every few milliseconds costs one
// scheduler round trip (two thread switches for a locked goroutine).
const yieldEvery = 5 * time.Millisecond

// Run runs the loop on the calling goroutine until Stop is called and
// every task submitted before that has run (a loop stopped before Run
// starts still runs its queued tasks, then returns). It then closes the
// poller and the Done channel. Descriptors still registered when Run
// returns are not closed: their owners close them before stopping the
// loop. Run returns ErrClosed if Run or Close was called before, and a
// wrapped system-call error if pinning the thread (Config.Pin) or
// polling fails.
func (l *Loop) Run() (err error) {
	if l.started.Swap(true) {
		return ErrClosed
	}
	defer l.finish()
	l.runner.enter()
	defer l.runner.leave()
	if l.cfg.LockOSThread || l.cfg.Pin {
		runtime.LockOSThread()
		if !l.cfg.Pin {
			defer runtime.UnlockOSThread()
		}
		// A pinned thread is never handed back: its goroutine keeps it
		// locked, and the runtime ends the thread when the goroutine
		// ends, rather than letting other goroutines run pinned to the
		// loop's CPU.
	}
	if l.cfg.Pin {
		if err := setAffinity(l.cfg.CPU); err != nil {
			return err
		}
	}
	lastYield := time.Now()
	if l.cfg.Metrics {
		l.spanBegins(lastYield.UnixNano())
		defer func() { l.spanEnds(time.Now().UnixNano()) }()
	}
	for l.state.Load() == stateRunning || !l.tasks.empty() {
		if now := l.Now(); now.Sub(lastYield) >= yieldEvery {
			// See yieldEvery.
			lastYield = now
			runtime.Gosched()
			l.nowSet = false
		}
		if l.tasks.run(l.cfg.TaskBatch) > 0 && l.cfg.BusyPoll > 0 {
			l.busy()
		}
		if l.cfg.BeforeWait != nil {
			l.cfg.BeforeWait()
		}
		timeout := l.timeout()
		if timeout != 0 && l.cfg.BusyPoll > 0 && l.Now().Before(l.spinUntil) {
			timeout = 0 // busy polling
		}
		if timeout != 0 {
			l.poller.Arm()
			if !l.tasks.empty() || l.state.Load() != stateRunning {
				timeout = 0
			} else {
				l.sleeps++
			}
		}
		var n int
		var err error
		if l.cfg.Metrics && timeout != 0 {
			l.spanEnds(time.Now().UnixNano())
			n, err = l.poller.Wait(timeout)
			l.spanBegins(time.Now().UnixNano())
		} else {
			n, err = l.poller.Wait(timeout)
		}
		l.nowSet = false
		if err != nil {
			return err
		}
		if n > 0 && l.cfg.BusyPoll > 0 {
			l.busy()
		}
		for i := 0; i < n; i++ {
			ev := l.poller.Event(i)
			if s := l.slot(ev.Fd); s != nil && s.h != nil && s.gen == ev.Gen {
				s.h.HandleEvent(ev.Fd, ev.Flags)
			}
		}
		if len(l.timers) > 0 {
			l.fireTimers()
		}
	}
	return nil
}

// busy notes that the loop had work: it keeps polling without blocking
// for Config.BusyPoll (callers check that it is set: without it, an
// iteration costs no call).
func (l *Loop) busy() {
	l.spinUntil = l.Now().Add(l.cfg.BusyPoll)
}

func (l *Loop) finish() {
	// Refuse new tasks, then run whatever was accepted before.
	l.tasks.close()
	for !l.tasks.empty() {
		l.tasks.run(l.cfg.TaskBatch)
	}
	if l.cfg.BeforeWait != nil {
		l.cfg.BeforeWait()
	}
	l.state.Store(stateDone)
	l.poller.Close()
	close(l.done)
}

// Stop asks the loop to return from Run after running the tasks already
// submitted. Any goroutine may call it, any number of times, before or
// after Run starts.
func (l *Loop) Stop() {
	if l.state.CompareAndSwap(stateRunning, stateStopping) {
		l.poller.Wake()
	}
}

// Close releases a loop that will never run: it refuses further tasks,
// runs those already queued on the calling goroutine, and closes the
// poller. It returns ErrClosed if Run or Close was called before; stop a
// running loop with Stop.
func (l *Loop) Close() error {
	if l.started.Swap(true) {
		return ErrClosed
	}
	l.finish()
	return nil
}

// Done is closed when Run has returned, or when Close released a loop
// that never ran.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Post queues fn to run on the loop goroutine, in order with respect to
// other Post calls from the same goroutine. Any goroutine may call it.
// It returns ErrClosed, and fn never runs, once the loop has finished; a
// task accepted before that is guaranteed to run.
func (l *Loop) Post(fn func()) error {
	if !l.tasks.push(fn) {
		return ErrClosed
	}
	// fn is queued and will run: the loop runs every accepted task, also
	// on its way out. A wake-up can fail only once the loop has closed
	// its poller, when it is past waiting anyway; reporting that would
	// make the caller treat a task that runs as refused.
	l.poller.Wake()
	return nil
}

// Submit is the old name of Post.
//
// Deprecated: renamed Post, so that it does not read as mill's
// Conn.Submit, which runs a task on the worker pool instead.
func (l *Loop) Submit(fn func()) error { return l.Post(fn) }

// Register starts watching fd and dispatching its events to h. The
// registration gets a new generation, so events left over from an earlier
// registration of the same fd number are dropped. Loop goroutine only.
func (l *Loop) Register(fd int, h Handler, in netpoll.Interest) error {
	if fd < 0 {
		return fmt.Errorf("reactor: invalid fd %d", fd)
	}
	if s := l.slot(fd); s != nil && s.h != nil {
		return fmt.Errorf("reactor: fd %d already registered", fd)
	}
	l.lastGen++
	if l.lastGen == ^uint32(0) { // reserved by the poller for its wake-up
		l.lastGen = 1
	}
	if err := l.poller.Add(fd, l.lastGen, in); err != nil {
		return err
	}
	p := fd >> pageShift
	for p >= len(l.pages) {
		l.pages = append(l.pages, nil)
	}
	if l.pages[p] == nil {
		l.pages[p] = new(slotPage)
	}
	l.pages[p][fd&(pageSize-1)] = slot{h: h, gen: l.lastGen}
	l.nfds++
	return nil
}

// SetInterest changes what fd is watched for (after Detach, it watches
// fd again). Loop goroutine only.
func (l *Loop) SetInterest(fd int, in netpoll.Interest) error {
	s := l.slot(fd)
	if s == nil || s.h == nil {
		return fmt.Errorf("reactor: fd %d not registered", fd)
	}
	if s.detached {
		s.detached = false
		return l.poller.Add(fd, s.gen, in)
	}
	return l.poller.Modify(fd, s.gen, in)
}

// Detach stops every event for fd until the next SetInterest, hang-ups
// and errors included, which a poller reports whatever the interest; fd
// stays registered to its handler. Loop goroutine only.
func (l *Loop) Detach(fd int) error {
	s := l.slot(fd)
	if s == nil || s.h == nil {
		return fmt.Errorf("reactor: fd %d not registered", fd)
	}
	if s.detached {
		return nil
	}
	s.detached = true
	return l.poller.Delete(fd)
}

// Unregister stops watching fd; no further event reaches its handler,
// including events already returned by the current poll. Call it before
// closing fd. Loop goroutine only.
func (l *Loop) Unregister(fd int) error {
	s := l.slot(fd)
	if s == nil || s.h == nil {
		return fmt.Errorf("reactor: fd %d not registered", fd)
	}
	detached := s.detached
	*s = slot{}
	l.nfds--
	if detached {
		return nil
	}
	return l.poller.Delete(fd)
}

// Queued reports how many posted tasks are waiting for the loop to take
// them (a batch the loop has taken and is running is not counted). Any
// goroutine; the value may be stale.
func (l *Loop) Queued() int { return l.tasks.queued() }

// Registered reports how many descriptors are registered. Loop goroutine
// only.
func (l *Loop) Registered() int { return l.nfds }

// Each calls fn for every registered descriptor, in fd order, until fn
// returns false. fn may unregister the descriptor it is given. Loop
// goroutine only.
func (l *Loop) Each(fn func(fd int, h Handler) bool) {
	for p, page := range l.pages {
		if page == nil {
			continue
		}
		for i := range page {
			if h := page[i].h; h != nil && !fn(p<<pageShift|i, h) {
				return
			}
		}
	}
}

// AfterFunc schedules fn to run on the loop goroutine once d has elapsed
// (at the first poll wake-up after the deadline: accuracy is about a
// millisecond). A timer still pending when the loop finishes never
// fires. Loop goroutine only.
func (l *Loop) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{when: time.Now().Add(d), fn: fn}
	l.timers.push(t)
	return t
}

// StopTimer cancels t; it reports whether t was still pending. Loop
// goroutine only.
func (l *Loop) StopTimer(t *Timer) bool {
	if t == nil || t.index < 0 {
		return false
	}
	l.timers.remove(t.index)
	return true
}

// Now returns the current time, read at most once per loop iteration:
// calls between two polls get the same value, so stamping every event
// with it costs one clock read per batch. Loop goroutine only.
func (l *Loop) Now() time.Time {
	if !l.nowSet {
		l.now, l.nowSet = time.Now(), true
	}
	return l.now
}

// timeout is how long the next poll may block: until the earliest timer,
// or forever (-1) when there is none.
func (l *Loop) timeout() time.Duration {
	if !l.tasks.empty() {
		return 0
	}
	if len(l.timers) == 0 {
		return -1
	}
	d := time.Until(l.timers[0].when)
	if d < 0 {
		return 0
	}
	return d
}

func (l *Loop) fireTimers() {
	now := time.Now()
	for len(l.timers) > 0 && !l.timers[0].when.After(now) {
		t := l.timers[0]
		l.timers.remove(0)
		t.fn()
	}
}
