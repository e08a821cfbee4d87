package workerpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/panjf2000/ants/v2"
	"go.uber.org/zap"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	// DefaultSize is the default number of tasks that may run at once. The
	// pool exists for blocking work (disk, DNS, databases, other services),
	// whose tasks spend their time waiting rather than computing, so the
	// limit is set by how much concurrency the pool should impose on those
	// downstream resources, not by the number of CPUs; 256 idle goroutines
	// cost about 2 MiB of stack.
	DefaultSize = 256

	// DefaultCapacityPerWorker gives the default Capacity: DefaultCapacityPerWorker
	// queued tasks per worker (16384 for DefaultSize), enough to absorb a
	// burst while still bounding memory and latency.
	DefaultCapacityPerWorker = 64

	// DefaultIdleTimeout is how long an idle worker goroutine is kept for
	// reuse by default before it exits.
	DefaultIdleTimeout = 10 * time.Second
)

var (
	// ErrPoolOverload is returned by a non-blocking pool's Submit methods
	// when Capacity tasks are already waiting.
	ErrPoolOverload = errors.New("workerpool: pool overloaded")

	// ErrPoolClosed is returned by the Submit methods once Release has been
	// called, including to submitters that were blocked waiting for room.
	ErrPoolClosed = errors.New("workerpool: pool closed")

	// ErrNilTask is returned by the Submit methods when the task is nil.
	ErrNilTask = errors.New("workerpool: nil task")

	// ErrGoexit is the Value of the [PanicInfo] reported for a task that
	// called runtime.Goexit (for example through testing.T.FailNow).
	ErrGoexit = errors.New("workerpool: task called runtime.Goexit")
)

// Config configures a [Pool]. The zero value is valid and selects the
// defaults described on each field. New copies it; the Pool keeps no
// reference to the caller's Config.
type Config struct {
	// Size is the maximum number of tasks running at once; 0 means
	// DefaultSize.
	Size int

	// Capacity is the maximum number of accepted tasks that are waiting to
	// start, over all keys together; 0 means DefaultCapacityPerWorker*Size.
	// A task handed straight to an idle worker does not count.
	Capacity int

	// Blocking makes the Submit methods wait for room when Capacity tasks
	// are waiting, instead of failing with ErrPoolOverload. An event loop
	// must never use a blocking pool.
	Blocking bool

	// IdleTimeout is how long a worker goroutine with nothing to do is kept
	// for reuse before it exits; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// Logger receives an Error entry, with the stack, for every task that
	// panics; nil means zap.NewNop().
	Logger *zap.Logger

	// PanicHandler, if not nil, is told about every task that panics (or
	// calls runtime.Goexit), after the panic is logged, so that the task's
	// owner can be answered. It is called on the failed task's worker
	// goroutine, before that key's next task starts, and so may run
	// concurrently for different keys. It must not block for long; a
	// panic in it is logged and recovered.
	PanicHandler func(PanicInfo)
}

// PanicInfo describes a task that panicked. It is passed to
// Config.PanicHandler, on the worker goroutine that ran the task.
type PanicInfo struct {
	Keyed bool   // the task was submitted with SubmitKeyed or SubmitKeyedContext
	Key   uint64 // the task's key, if Keyed
	Value any    // the value passed to panic, or ErrGoexit
	Stack []byte // the panicking goroutine's stack, from runtime/debug.Stack
}

// Pool runs tasks on a bounded set of reusable goroutines. See the package
// documentation for its design and rules. A Pool must be created with [New];
// all its methods are safe for concurrent use.
type Pool struct {
	size     int
	capacity int
	blocking bool
	logger   *zap.Logger
	onPanic  func(PanicInfo)
	ants     *ants.Pool
	stats    counters

	mu      sync.Mutex
	closed  bool                 // Release has been called
	workers int                  // running work loops (ants jobs), <= size
	queued  int                  // accepted tasks not started, <= capacity
	pending int                  // accepted tasks not finished
	ready   fifo[item]           // runnable items; non-empty only if workers == size
	keys    map[uint64]*keyQueue // keys with a task running or queued
	room    chan struct{}        // closed when room may have freed; nil if nobody waits
	drained bool                 // closed && pending == 0 has been seen
	closing chan struct{}        // closed by the first Release
	idle    chan struct{}        // closed when drained becomes true
	done    chan struct{}        // closed once the ants pool is fully released

	testHookWait func() // if set, called by a Submit about to wait for room
}

// Validate reports what is wrong with cfg, naming the field: New fails
// with the same error. Any goroutine.
func (cfg Config) Validate() error {
	switch {
	case cfg.Size < 0:
		return fmt.Errorf("workerpool: Config.Size %d: want >= 0 (0 is DefaultSize)", cfg.Size)
	case cfg.Capacity < 0:
		return fmt.Errorf("workerpool: Config.Capacity %d: want >= 0 (0 is the default)", cfg.Capacity)
	case cfg.IdleTimeout < 0:
		return fmt.Errorf("workerpool: Config.IdleTimeout %v: want >= 0 (0 is the default)", cfg.IdleTimeout)
	}
	return nil
}

// New returns a Pool configured by cfg. It starts the pool's two ants
// housekeeping goroutines (idle-worker reaper and clock), which stop in
// Release; worker goroutines are started on demand. New may be called from
// any goroutine.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacityPerWorker * cfg.Size
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	// The ants pool is unbounded on purpose: the pool enforces Size itself.
	// ants counts a worker as busy until it has parked after its job, so an
	// ants pool capped at Size would make a Submit that follows a finishing
	// task fail (non-blocking) or wait (blocking) for no reason. At most
	// Size ants jobs are ever outstanding here, so ants never holds more
	// than Size goroutines plus the few still parking.
	ap, err := ants.NewPool(-1,
		ants.WithExpiryDuration(cfg.IdleTimeout),
		ants.WithNonblocking(true),
		ants.WithLogger(antsLogger{cfg.Logger.Sugar()}),
	)
	if err != nil {
		return nil, fmt.Errorf("workerpool: %w", err)
	}
	return &Pool{
		size:     cfg.Size,
		capacity: cfg.Capacity,
		blocking: cfg.Blocking,
		logger:   cfg.Logger,
		onPanic:  cfg.PanicHandler,
		ants:     ap,
		keys:     make(map[uint64]*keyQueue),
		closing:  make(chan struct{}),
		idle:     make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// Submit queues task to run once on some worker, in no particular order
// relative to other tasks. It never blocks unless the pool is Blocking; it
// returns ErrPoolOverload if the pool is full and not Blocking,
// ErrPoolClosed once Release has been called, and ErrNilTask if task is nil. Submit may be called from any
// goroutine, including from inside a task (but a task that blocks in a full
// Blocking pool can deadlock it).
func (p *Pool) Submit(task func()) error {
	return p.submit(context.Background(), false, 0, task)
}

// SubmitKeyed is like Submit, but tasks submitted with the same key run one
// at a time, in the order of their SubmitKeyed calls; tasks with different
// keys (and unkeyed tasks) run in parallel. A task may submit to its own key;
// the new task runs after it. SubmitKeyed may be called from any goroutine.
func (p *Pool) SubmitKeyed(key uint64, task func()) error {
	return p.submit(context.Background(), true, key, task)
}

// SubmitContext is like Submit, but a Blocking pool stops waiting for room
// when ctx ends, returning ctx.Err(). It may be called from any goroutine.
func (p *Pool) SubmitContext(ctx context.Context, task func()) error {
	return p.submit(ctx, false, 0, task)
}

// SubmitKeyedContext is like SubmitKeyed, but a Blocking pool stops waiting
// for room when ctx ends, returning ctx.Err(). It may be called from any
// goroutine.
func (p *Pool) SubmitKeyedContext(ctx context.Context, key uint64, task func()) error {
	return p.submit(ctx, true, key, task)
}

func (p *Pool) submit(ctx context.Context, keyed bool, key uint64, task func()) error {
	if task == nil {
		return ErrNilTask
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return ErrPoolClosed
		}
		var kq *keyQueue
		if keyed {
			kq = p.keys[key]
		}
		if kq == nil && p.workers < p.size {
			// Nothing runs before this task: hand it to a new work loop.
			it := item{fn: task}
			if keyed {
				it.kq = getKeyQueue(key)
				p.keys[key] = it.kq
			}
			p.workers++
			p.pending++
			p.stats.submitted.Add(1)
			p.mu.Unlock()
			p.spawn(it)
			return nil
		}
		if p.queued < p.capacity {
			switch {
			case !keyed:
				p.ready.push(item{fn: task})
			case kq == nil:
				kq = getKeyQueue(key)
				p.keys[key] = kq
				p.ready.push(item{kq: kq})
				kq.tasks.push(task)
			default: // kq is already scheduled or active
				kq.tasks.push(task)
			}
			p.queued++
			p.pending++
			// Counted under mu, so that Stats never shows a task
			// finishing before it was submitted.
			p.stats.submitted.Add(1)
			p.stats.waiting.Add(1)
			p.mu.Unlock()
			return nil
		}
		if !p.blocking {
			p.mu.Unlock()
			p.stats.rejected.Add(1)
			return ErrPoolOverload
		}
		if p.room == nil {
			p.room = make(chan struct{})
		}
		room := p.room
		p.mu.Unlock()
		if p.testHookWait != nil {
			p.testHookWait()
		}
		select {
		case <-room:
		case <-p.closing: // seen as p.closed on the next iteration
		case <-ctx.Done():
			p.stats.rejected.Add(1)
			return ctx.Err()
		}
		p.mu.Lock()
	}
}

// wakeLocked tells blocked submitters that room may have freed.
func (p *Pool) wakeLocked() {
	if p.room != nil {
		close(p.room)
		p.room = nil
	}
}

// checkIdleLocked closes p.idle once the pool is closed and empty.
func (p *Pool) checkIdleLocked() {
	if p.closed && p.pending == 0 && !p.drained {
		p.drained = true
		close(p.idle)
	}
}

// Release stops the pool: Submit fails with ErrPoolClosed from now on, while
// every task accepted before keeps its place and still runs. Release waits
// until no task is running or waiting and the underlying ants pool has been
// released (its worker and housekeeping goroutines stopped), and returns nil. If ctx ends first, Release discards the tasks that have
// not started (counted in Stats.Dropped) and returns ctx.Err(); tasks already
// running cannot be stopped and finish on their own, after which the pool
// cleans up in the background. Release is idempotent: a later call waits
// again, and returns nil once the pool is fully released.
//
// Release may be called from any goroutine except a task of this pool, which
// it would wait for until ctx ends.
func (p *Pool) Release(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.closing)
		p.checkIdleLocked()
		go p.finish()
	}
	p.mu.Unlock()
	select {
	case <-p.done:
		return nil
	default:
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.discard()
		return ctx.Err()
	}
}

// finish releases the ants pool once every accepted task has ended.
func (p *Pool) finish() {
	<-p.idle
	// With a Background context ReleaseContext waits for ants' workers and
	// housekeeping goroutines to stop; it can only fail if already released.
	if err := p.ants.ReleaseContext(context.Background()); err != nil {
		p.logger.Error("workerpool: releasing ants pool", zap.Error(err))
	}
	close(p.done)
}

// discard drops every task that has not started.
func (p *Pool) discard() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.queued
	if n == 0 {
		return
	}
	for p.ready.len() > 0 {
		if kq := p.ready.pop().kq; kq != nil { // scheduled, so not active
			delete(p.keys, kq.key)
			kq.tasks.reset()
			putKeyQueue(kq)
		}
	}
	for _, kq := range p.keys { // active keys: their worker deletes them
		kq.tasks.reset()
	}
	p.queued = 0
	p.pending -= n
	p.stats.waiting.Add(-int64(n))
	p.stats.dropped.Add(uint64(n))
	p.checkIdleLocked()
}

// antsLogger routes the ants pool's own messages to zap.
type antsLogger struct{ l *zap.SugaredLogger }

func (a antsLogger) Printf(format string, args ...any) { a.l.Errorf("ants: "+format, args...) }
