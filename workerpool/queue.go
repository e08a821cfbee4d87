package workerpool

import "sync"

// fifo is a growable ring buffer. Its zero value is an empty queue. It is not
// safe for concurrent use; the pool guards every fifo with Pool.mu.
type fifo[T any] struct {
	buf  []T
	head int // index of the oldest element
	n    int // number of elements
}

func (q *fifo[T]) len() int { return q.n }

func (q *fifo[T]) push(v T) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

// pop removes and returns the oldest element; the queue must not be empty.
func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero // drop the reference for the garbage collector
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.head = 0
	}
	return v
}

// reset empties the queue, keeping its buffer.
func (q *fifo[T]) reset() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

func (q *fifo[T]) grow() {
	size := 2 * len(q.buf)
	if size == 0 {
		size = 4
	}
	buf := make([]T, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

// keyQueue holds the not-yet-started tasks of one key. A keyQueue exists in
// Pool.keys exactly while its key has a task that is either running or
// queued; it is then in one of two states:
//
//   - scheduled: an item for it sits in Pool.ready, and no task of the key is
//     running; the worker that pops the item runs tasks.pop().
//   - active: a worker is running one of its tasks; when that task ends the
//     worker re-schedules the keyQueue if tasks is not empty, or deletes it.
//
// So at most one task per key runs at a time, and a key's tasks run in the
// order they were queued.
type keyQueue struct {
	key   uint64
	tasks fifo[func()]
}

// maxPooledKeyQueue bounds the buffer a recycled keyQueue may keep, so that
// one burst on one key does not pin memory for ever.
const maxPooledKeyQueue = 64

var keyQueuePool = sync.Pool{New: func() any { return new(keyQueue) }}

func getKeyQueue(key uint64) *keyQueue {
	kq := keyQueuePool.Get().(*keyQueue)
	kq.key = key
	return kq
}

func putKeyQueue(kq *keyQueue) {
	if len(kq.tasks.buf) > maxPooledKeyQueue {
		kq.tasks = fifo[func()]{}
	}
	keyQueuePool.Put(kq)
}

// item is one entry of Pool.ready: either an unkeyed task (fn) or a scheduled
// key (kq), whose next task is taken from kq.tasks when the item is popped.
type item struct {
	fn func()
	kq *keyQueue
}
