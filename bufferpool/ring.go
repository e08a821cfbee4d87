package bufferpool

import (
	"io"
	"math/bits"
)

// shrinkFloor is the capacity at or below which a Ring never shrinks: small
// buffers are cheaper to keep than to trade back and forth with the Pool.
const shrinkFloor = 64 << 10

// Ring is a growable FIFO byte queue stored in a circular buffer whose
// storage comes from a [Pool]. It is meant to be embedded by value in a
// per-connection struct: it is small, and its zero value holds no storage.
// Call [Ring.Init] once before use; a Ring that was never initialised behaves
// as if Init(nil, 0) had been called.
//
// Storage is taken from the Pool on the first Write and replaced by a larger
// power-of-two buffer when a Write does not fit; once a Discard or Read has
// drained it to a quarter of its capacity, a large buffer (above
// max(minCap, 64 KiB)) is replaced by a smaller one. The Ring does not give
// its storage back when it becomes empty: slices returned by [Ring.Peek] and
// [Ring.Contiguous] alias that storage, and only the owner knows when none of
// them is still in use, so the owner calls [Ring.Release].
//
// Every mutating method (Write, Discard, Read, Contiguous, Release, Init)
// invalidates all slices previously returned by Peek and Contiguous: their
// bytes may be moved, overwritten, or handed to another Pool user.
//
// A Ring is not safe for concurrent use: all its methods must be called by
// the goroutine that owns it (or under the owner's lock).
type Ring struct {
	pool   *Pool
	buf    []byte // nil, or len(buf) == cap(buf) == a power of two
	head   int    // index of the first stored byte; 0 whenever n == 0
	n      int    // number of stored bytes
	minCap int    // 0 (meaning MinClass) or a power of two >= MinClass
}

// Init sets the Pool that supplies storage (nil means plain allocation with
// make, never pooled) and the minimum capacity of that storage, rounded up to
// a power of two of at least [MinClass] (that is, to [ClassSize](minCap) when
// minCap <= [MaxClass]); minCap <= 0 means [MinClass]. Init does not
// allocate. Call it once, before any other method; if the Ring already holds
// storage, Init first releases it (as [Ring.Release] does) to the old Pool.
// Only the owning goroutine may call Init.
func (r *Ring) Init(p *Pool, minCap int) {
	r.Release()
	r.pool = p
	r.minCap = ceilPow2(max(minCap, MinClass))
}

// Len returns the number of stored bytes. Only the owning goroutine may call
// it.
func (r *Ring) Len() int { return r.n }

// Cap returns the capacity of the storage currently held, or 0 when the Ring
// holds none. Only the owning goroutine may call it.
func (r *Ring) Cap() int { return len(r.buf) }

// Write appends all of p, growing the storage when needed, and always returns
// len(p), nil. Growth takes a power-of-two buffer large enough for all the
// data (at least twice the old capacity) from the Pool, copies the stored
// bytes into it in order, and Puts the old buffer. p may alias bytes returned
// by Peek or Contiguous; those slices are invalid once Write returns. Write
// does not retain p. Only the owning goroutine may call Write.
func (r *Ring) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	need := r.n + len(p)
	var old []byte
	if need > len(r.buf) {
		// Keep the old storage until p has been copied: p may alias it.
		old = r.moveTo(r.alloc(ceilPow2(max(need, r.minCapacity()))))
	}
	mask := len(r.buf) - 1
	w := (r.head + r.n) & mask
	c := copy(r.buf[w:], p)
	copy(r.buf, p[c:])
	r.n = need
	if old != nil {
		r.free(old)
	}
	return len(p), nil
}

// Peek returns the first min(n, Len) bytes (all of them when n < 0) without
// consuming or moving them, as head followed by tail; tail is non-empty only when the
// bytes wrap around the end of the storage. Both are nil when no bytes are
// returned. The slices alias the Ring's storage and have no spare capacity;
// they stay valid only until the next mutating call on the Ring. Only the
// owning goroutine may call Peek.
func (r *Ring) Peek(n int) (head, tail []byte) {
	k := r.clamp(n)
	if k == 0 {
		return nil, nil
	}
	end := r.head + k
	if end <= len(r.buf) {
		return r.buf[r.head:end:end], nil
	}
	end -= len(r.buf)
	return r.buf[r.head:], r.buf[:end:end]
}

// Contiguous returns the first min(n, Len) bytes (all of them when n < 0)
// without consuming them, as one slice, or nil when no bytes are returned. If
// the stored bytes wrap around the end of the storage, it first moves all of
// them so they are contiguous: within the buffer when its free space allows,
// otherwise into a new buffer of the same size from the Pool (the old one is
// Put). The result aliases the Ring's storage, has no spare capacity, and
// stays valid only until the next mutating call on the Ring. Only the owning
// goroutine may call Contiguous.
func (r *Ring) Contiguous(n int) []byte {
	k := r.clamp(n)
	if k == 0 {
		return nil
	}
	if r.head+k > len(r.buf) {
		r.unwrap()
	}
	return r.buf[r.head : r.head+k : r.head+k]
}

// Discard drops up to n bytes from the front and returns how many it dropped
// (0 when n <= 0). It may shrink the storage (see [Ring]). Only the owning
// goroutine may call Discard.
func (r *Ring) Discard(n int) int {
	if n <= 0 || r.n == 0 {
		return 0
	}
	k := r.clamp(n)
	r.consume(k)
	return k
}

// Read moves up to len(p) bytes from the front into p and returns how many it
// moved. When the Ring is empty and len(p) > 0 it returns 0, [io.EOF]. It may
// shrink the storage (see [Ring]). Read does not retain p. Only the owning
// goroutine may call Read.
func (r *Ring) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	h, t := r.Peek(len(p))
	c := copy(p, h)
	c += copy(p[c:], t)
	r.consume(c)
	return c, nil
}

// Release drops the contents and returns the storage to the Pool, leaving the
// Ring empty and holding no storage; its Pool and minimum capacity are kept,
// so it may be written again. The owner must call it once no slice returned by
// Peek or Contiguous is in use any more, typically when the connection closes.
// Only the owning goroutine may call Release.
func (r *Ring) Release() {
	if r.buf != nil {
		r.free(r.buf)
	}
	r.buf, r.head, r.n = nil, 0, 0
}

// clamp returns min(n, Len), or Len when n < 0.
func (r *Ring) clamp(n int) int {
	if n < 0 || n > r.n {
		return r.n
	}
	return n
}

// consume drops k (1 <= k <= Len) bytes from the front, then resets the
// positions if the Ring became empty and shrinks the storage if it should.
func (r *Ring) consume(k int) {
	r.n -= k
	if r.n == 0 {
		r.head = 0
	} else {
		r.head = (r.head + k) & (len(r.buf) - 1)
	}
	c := len(r.buf)
	if r.n <= c/4 && c > max(r.minCapacity(), shrinkFloor) {
		r.free(r.moveTo(r.alloc(ceilPow2(max(2*r.n, r.minCapacity())))))
	}
}

// unwrap makes the stored bytes contiguous. They must currently wrap: A =
// buf[head:] is followed logically by B = buf[:t], with a gap buf[t:head].
func (r *Ring) unwrap() {
	c := len(r.buf)
	a := c - r.head
	t := r.n - a
	gap := c - r.n
	switch {
	case gap >= t:
		// Slide A left by t, then put B after it at the end of the buffer.
		// A's new place starts at head-t >= t, so it misses B.
		copy(r.buf[r.head-t:], r.buf[r.head:])
		copy(r.buf[c-t:], r.buf[:t])
		r.head -= t
	case gap >= a:
		// Slide B right by a, then put A in front of it. B's new place
		// ends at n <= head, so it misses A, and A's new place [0, a)
		// ends before head.
		copy(r.buf[a:], r.buf[:t])
		copy(r.buf, r.buf[r.head:])
		r.head = 0
	default:
		// The gap is smaller than both parts: use fresh storage.
		r.free(r.moveTo(r.alloc(c)))
	}
}

// moveTo copies the stored bytes in order to the start of nb, makes nb the
// storage and returns the old storage, which the caller must free.
func (r *Ring) moveTo(nb []byte) (old []byte) {
	h, t := r.Peek(-1)
	copy(nb[copy(nb, h):], t)
	old = r.buf
	r.buf, r.head = nb, 0
	return old
}

// minCapacity returns the effective minimum capacity.
func (r *Ring) minCapacity() int {
	if r.minCap == 0 {
		return MinClass
	}
	return r.minCap
}

// alloc returns a buffer of exactly size bytes, size a power of two >=
// MinClass.
func (r *Ring) alloc(size int) []byte {
	if r.pool == nil {
		return make([]byte, size)
	}
	b := r.pool.Get(size)
	return b[:cap(b)]
}

// free gives b back to the Pool, if any.
func (r *Ring) free(b []byte) {
	if r.pool != nil {
		r.pool.Put(b)
	}
}

// ceilPow2 returns the smallest power of two >= n, for n >= 1.
func ceilPow2(n int) int {
	return 1 << bits.Len(uint(n-1))
}
