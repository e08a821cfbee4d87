package bufferpool

import (
	"sync"
	"testing"
	"unsafe"
)

func TestClassSize(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 64},
		{1, 64},
		{63, 64},
		{64, 64},
		{65, 128},
		{128, 128},
		{129, 256},
		{1000, 1024},
		{4096, 4096},
		{4097, 8192},
		{64<<10 - 1, 64 << 10},
		{64<<20 - 1, 64 << 20},
		{64 << 20, 64 << 20},
		{64<<20 + 1, 64<<20 + 1},
		{65 << 20, 65 << 20},
	}
	for _, tt := range tests {
		if got := ClassSize(tt.n); got != tt.want {
			t.Errorf("ClassSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestPoolGetLenCap(t *testing.T) {
	var p Pool
	for _, n := range []int{0, 1, 64, 65, 100, 1 << 10, 1<<10 + 1, 1 << 20, 3 << 20} {
		b := p.Get(n)
		if len(b) != n || cap(b) != ClassSize(n) {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", n, len(b), cap(b), n, ClassSize(n))
		}
		if got := p.Outstanding(); got != 1 {
			t.Errorf("after Get(%d): Outstanding = %d, want 1", n, got)
		}
		p.Put(b)
		if got := p.Outstanding(); got != 0 {
			t.Errorf("after Put: Outstanding = %d, want 0", got)
		}
	}
}

func TestPoolReusesByClass(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts at random under the race detector")
	}
	var p Pool
	b := p.Get(1000)
	b[0] = 42
	first := unsafe.SliceData(b)
	p.Put(b)
	// Same class (1024): the buffer comes back, re-sliced to the new length.
	c := p.Get(600)
	if unsafe.SliceData(c) != first || len(c) != 600 || cap(c) != 1024 {
		t.Fatalf("Get(600) after Put of a 1024-class buffer: got a different buffer (len %d cap %d)", len(c), cap(c))
	}
	if c[0] != 42 {
		t.Errorf("recycled buffer was modified: c[0] = %d", c[0])
	}
	p.Put(c[:0]) // a re-sliced buffer is fine
	// A different class must not return it.
	d := p.Get(2000)
	if unsafe.SliceData(d) == first {
		t.Errorf("Get(2000) returned a buffer from the 1024 class")
	}
	p.Put(d)
	if got := p.Outstanding(); got != 0 {
		t.Errorf("Outstanding = %d, want 0", got)
	}
}

func TestPoolPutOddCapacities(t *testing.T) {
	var p Pool
	// Slices from Get whose capacity changed by re-slicing are dropped,
	// but still counted back.
	b := p.Get(256)
	p.Put(b[10:])
	// Capacity below the smallest class, and a non-power-of-two capacity.
	c := p.Get(100)
	p.Put(c[:8:8])
	d := p.Get(100)
	p.Put(d[:100:100])
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("Outstanding = %d, want 0", got)
	}
	// Zero-capacity slices cannot come from Get: ignored.
	p.Put(nil)
	p.Put([]byte{}[:0:0])
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("Outstanding after Put(nil) = %d, want 0", got)
	}
	// None of the odd slices may come back from Get.
	for range 100 {
		e := p.Get(64)
		if cap(e) != 64 {
			t.Fatalf("Get(64) returned cap %d", cap(e))
		}
		p.Put(e)
	}
}

func TestPoolLargeRequest(t *testing.T) {
	var p Pool
	const n = 65 << 20 // above MaxClass: plain allocation
	b := p.Get(n)
	if len(b) != n || cap(b) != n {
		t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
	}
	if got := p.Outstanding(); got != 1 {
		t.Fatalf("Outstanding = %d, want 1", got)
	}
	p.Put(b)
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("Outstanding = %d, want 0", got)
	}
	// The largest pooled class still works.
	c := p.Get(MaxClass)
	if cap(c) != MaxClass {
		t.Fatalf("Get(MaxClass): cap %d", cap(c))
	}
	p.Put(c)
}

func TestPoolNegativePanics(t *testing.T) {
	var p Pool
	defer func() {
		if recover() == nil {
			t.Fatal("Get(-1) did not panic")
		}
		if got := p.Outstanding(); got != 0 {
			t.Errorf("Outstanding = %d after panicking Get", got)
		}
	}()
	p.Get(-1)
}

func TestPoolsIndependent(t *testing.T) {
	var p, q Pool
	b := p.Get(10)
	if q.Outstanding() != 0 || p.Outstanding() != 1 {
		t.Fatalf("Outstanding p=%d q=%d, want 1 0", p.Outstanding(), q.Outstanding())
	}
	p.Put(b)
	if !raceEnabled {
		// The buffer went to p, so q allocates a fresh one.
		c := q.Get(10)
		if unsafe.SliceData(c) == unsafe.SliceData(b) {
			t.Error("q returned a buffer Put to p")
		}
		q.Put(c)
	}
}

func TestPoolConcurrent(t *testing.T) {
	var p Pool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				n := (i*37 + g*1000) % 9000
				b := p.Get(n)
				for j := range b {
					b[j] = byte(g)
				}
				for j := range b {
					if b[j] != byte(g) {
						t.Errorf("buffer shared between goroutines")
						return
					}
				}
				p.Put(b)
			}
		}()
	}
	wg.Wait()
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("Outstanding = %d, want 0", got)
	}
}

func TestPoolGetPutNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts at random under the race detector")
	}
	var p Pool
	for _, n := range []int{1, 64, 1000, 100 << 10} {
		p.Put(p.Get(n)) // warm the class
		allocs := testing.AllocsPerRun(1000, func() {
			p.Put(p.Get(n))
		})
		if allocs != 0 {
			t.Errorf("Get(%d)+Put: %v allocs per run, want 0", n, allocs)
		}
	}
}
