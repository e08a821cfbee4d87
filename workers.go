//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"unsafe"

	"github.com/mill-io/mill/workerpool"
)

// workers returns the server's worker pool, creating it with the default
// configuration on first use when WithWorkerPool was not given. It fails
// with ErrServerClosed once the pool has been released. Any goroutine.
func (e *engine) workers() (*workerpool.Pool, error) {
	e.poolMu.Lock()
	defer e.poolMu.Unlock()
	if e.poolReleased {
		return nil, ErrServerClosed
	}
	if e.workerPool == nil {
		p, err := workerpool.New(e.workerConfig(workerpool.Config{}))
		if err != nil {
			return nil, err
		}
		e.workerPool = p
	}
	return e.workerPool, nil
}

// workerConfig fills in what mill supplies: its logger.
func (e *engine) workerConfig(cfg workerpool.Config) workerpool.Config {
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	return cfg
}

// releaseWorkers stops the pool after the loops have closed every
// connection: tasks already accepted run (their writes report ErrClosed)
// until ctx ends. Serve's goroutine.
func (e *engine) releaseWorkers(ctx context.Context) {
	e.poolMu.Lock()
	p := e.workerPool
	e.poolReleased = true
	e.poolMu.Unlock()
	if p != nil {
		p.Release(ctx)
	}
}

// Submit runs task on the server's worker pool, after every task this
// connection submitted before it. Any goroutine.
func (c *conn) Submit(task func()) error {
	p, err := c.loop.e.workers()
	if err != nil {
		return err
	}
	// The conn's address is a key no other live conn has; queued tasks
	// keep the conn alive, so it cannot be reused while they wait.
	key := uint64(uintptr(unsafe.Pointer(c)))
	if c.loop.e.draining.Load() {
		return ErrServerClosed
	}
	c.inflight.Add(1)
	err = p.SubmitKeyed(key, func() {
		c.tasks.Add(1)
		defer func() {
			// A panic's close is posted before the task stops counting as
			// in flight: otherwise a checkDone posted first could close
			// the conn cleanly (after the peer's FIN, or in a drain) and
			// OnClose would never hear ErrHandlerPanic.
			v := recover()
			if v != nil {
				pe := &PanicError{Value: v, Stack: stack()}
				c.loop.loop.Post(func() { c.closeNow(pe) })
			}
			c.tasks.Add(-1)
			if c.inflight.Add(-1) == 0 {
				c.loop.loop.Post(c.checkDone) // a drain or the peer's FIN may be waiting for it
			}
			if v != nil {
				panic(v) // on to the pool, which logs and counts it
			}
		}()
		task()
	})
	if err != nil {
		c.inflight.Add(-1)
	}
	return err
}
