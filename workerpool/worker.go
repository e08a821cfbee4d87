package workerpool

import (
	"runtime/debug"

	"go.uber.org/zap"
)

// spawn starts a work loop for it as an ants job. The caller has counted the
// loop in p.workers.
func (p *Pool) spawn(it item) {
	if err := p.ants.Submit(func() { p.work(it) }); err != nil {
		// Unreachable: the ants pool is unbounded and is released only
		// after every accepted task has ended. Never lose a task anyway.
		p.logger.Error("workerpool: ants refused a job", zap.Error(err))
		go p.work(it)
	}
}

// work is the body of one ants job: it runs it, then keeps taking runnable
// items from p.ready until there are none, and then gives its slot back.
func (p *Pool) work(it item) {
	returned := false
	defer func() {
		if !returned {
			// The task called runtime.Goexit, which is ending this
			// goroutine; exec has reported it. Finish the item's
			// bookkeeping and hand the slot to a fresh job.
			if next, ok := p.next(it); ok {
				p.spawn(next)
			}
		}
	}()
	for {
		returned = false
		p.exec(it)
		returned = true
		var ok bool
		if it, ok = p.next(it); !ok {
			return
		}
	}
}

// exec runs one task, recovering and reporting a panic. It returns normally
// unless the task calls runtime.Goexit.
func (p *Pool) exec(it item) {
	p.stats.running.Add(1)
	ok := false
	defer func() {
		p.stats.running.Add(-1)
		if ok {
			p.stats.completed.Add(1)
			return
		}
		p.stats.failed.Add(1)
		// Since Go 1.21 panic(nil) panics with *runtime.PanicNilError, so
		// a nil recover here means the task called runtime.Goexit.
		v := recover()
		if v == nil {
			v = ErrGoexit
		}
		info := PanicInfo{Value: v, Stack: debug.Stack()}
		if it.kq != nil {
			info.Keyed, info.Key = true, it.kq.key
		}
		p.report(info)
	}()
	it.fn()
	ok = true
}

// report logs a failed task and tells the PanicHandler.
func (p *Pool) report(info PanicInfo) {
	fields := []zap.Field{zap.Any("panic", info.Value), zap.ByteString("stack", info.Stack)}
	if info.Keyed {
		fields = append(fields, zap.Uint64("key", info.Key))
	}
	p.logger.Error("workerpool: task panicked", fields...)
	if p.onPanic == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.logger.Error("workerpool: PanicHandler panicked", zap.Any("panic", v), zap.Stack("stack"))
		}
	}()
	p.onPanic(info)
}

// next finishes prev and returns the next item to run, or gives the work
// loop's slot back and returns false if there is none.
func (p *Pool) next(prev item) (item, bool) {
	p.mu.Lock()
	p.pending--
	if kq := prev.kq; kq != nil {
		if kq.tasks.len() > 0 {
			// Back of the line, so that a busy key cannot starve others.
			p.ready.push(item{kq: kq})
		} else {
			delete(p.keys, kq.key)
			putKeyQueue(kq)
		}
	}
	if p.ready.len() == 0 {
		p.workers--
		p.wakeLocked() // a blocked submitter may hand off to a new loop
		p.checkIdleLocked()
		p.mu.Unlock()
		return item{}, false
	}
	it := p.ready.pop()
	if it.kq != nil {
		it.fn = it.kq.tasks.pop()
	}
	p.queued--
	p.stats.waiting.Add(-1)
	p.wakeLocked()
	p.mu.Unlock()
	return it, true
}
