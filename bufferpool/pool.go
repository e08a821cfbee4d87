package bufferpool

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	minClassShift = 6  // smallest class: 64 B
	maxClassShift = 26 // largest pooled class: 64 MiB
	numClasses    = maxClassShift - minClassShift + 1

	// MinClass is the smallest size class: every slice returned by
	// [Pool.Get] has a capacity of at least MinClass bytes.
	MinClass = 1 << minClassShift

	// MaxClass is the largest pooled size class. [Pool.Get] serves larger
	// requests with a plain allocation of exactly the requested size, and
	// [Pool.Put] drops such slices instead of pooling them.
	MaxClass = 1 << maxClassShift
)

// Pool is a size-classed pool of byte slices. The zero value is ready to use.
// Safe for concurrent use.
//
// Each size class (a power of two from [MinClass] to [MaxClass]) has its own
// [sync.Pool], so pooled memory may be reclaimed by the garbage collector
// like any sync.Pool content. A single atomic counter tracks how many slices
// are outstanding (see [Pool.Outstanding]); it is shared by all classes, so a
// busy Pool pays one contended atomic add per Get and per Put.
//
// A Pool must not be copied after first use.
type Pool struct {
	outstanding atomic.Int64
	classes     [numClasses]sync.Pool // classes[i] holds *byte to 1<<(i+minClassShift) bytes
}

// classIndex returns the index of the smallest class that can hold n bytes,
// or -1 if n exceeds MaxClass. n must be >= 0.
func classIndex(n int) int {
	if n <= MinClass {
		return 0
	}
	if n > MaxClass {
		return -1
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// ClassSize returns the capacity of the slice [Pool.Get] returns for a
// request of n bytes: the smallest power of two >= max(n, [MinClass]) when
// that is at most [MaxClass], and n itself otherwise. It panics if n < 0.
// Any goroutine may call it.
func ClassSize(n int) int {
	if n < 0 {
		panic("bufferpool: negative size")
	}
	i := classIndex(n)
	if i < 0 {
		return n
	}
	return 1 << (i + minClassShift)
}

// Get returns a slice of length n whose capacity is [ClassSize](n). The
// contents are not zeroed: a recycled slice holds whatever its previous owner
// wrote. Requests larger than [MaxClass] are served by a plain allocation that
// is still counted by [Pool.Outstanding]. Get panics if n < 0.
//
// Any goroutine may call Get. The caller owns the returned slice until it
// passes it to [Pool.Put]; it stays valid (the Pool never touches it) until
// then, and must not be used afterwards.
func (p *Pool) Get(n int) []byte {
	if n < 0 {
		panic("bufferpool: negative size")
	}
	p.outstanding.Add(1)
	i := classIndex(n)
	if i < 0 {
		return make([]byte, n)
	}
	size := 1 << (i + minClassShift)
	if v := p.classes[i].Get(); v != nil {
		// The pool stores a pointer to the first byte of a size-byte
		// array: a pointer-shaped value boxes into an interface without
		// allocating, unlike a slice header.
		return unsafe.Slice((*byte)(v.(unsafe.Pointer)), size)[:n]
	}
	return make([]byte, n, size)
}

// Put returns ownership of b, which must have been obtained from Get on this
// same Pool (any re-slicing of it is fine), to the Pool; b and every slice
// aliasing it must not be used afterwards. Put does not allocate.
//
// Put always decrements [Pool.Outstanding], except that a slice with zero
// capacity (such as nil), which Get never returns, is ignored. The storage is
// pooled for reuse only when cap(b) is exactly a class size; other slices
// (such as those over [MaxClass]) are dropped for the garbage collector.
// Passing a slice that did not come from this Pool's Get corrupts the count.
//
// Any goroutine may call Put.
func (p *Pool) Put(b []byte) {
	c := cap(b)
	if c == 0 {
		return
	}
	p.outstanding.Add(-1)
	if c < MinClass || c > MaxClass || c&(c-1) != 0 {
		return
	}
	p.classes[bits.Len(uint(c))-1-minClassShift].Put(unsafe.Pointer(&b[:c][0]))
}

// Outstanding reports how many slices Get has handed out that have not yet
// been passed to Put. Any goroutine may call it; under concurrent Get and Put
// the value is only a snapshot. Tests use it to prove that nothing leaks.
func (p *Pool) Outstanding() int64 {
	return p.outstanding.Load()
}
