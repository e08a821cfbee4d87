package bufferpool

import (
	"bytes"
	"io"
	"testing"
	"unsafe"
)

// pattern returns n bytes starting at sequence number seq, so that misordered
// or duplicated bytes are detected.
func pattern(seq, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		s := seq + i
		b[i] = byte(s ^ s>>8 ^ s>>16)
	}
	return b
}

// contents returns all stored bytes of r as a new slice.
func contents(r *Ring) []byte {
	h, t := r.Peek(-1)
	return append(append([]byte{}, h...), t...)
}

func TestRingSize(t *testing.T) {
	// A *Pool, a slice and three ints.
	if got, limit := unsafe.Sizeof(Ring{}), 7*unsafe.Sizeof(uintptr(0)); got > limit {
		t.Fatalf("Ring is %d bytes, want at most %d", got, limit)
	}
}

func TestRingZeroValue(t *testing.T) {
	var r Ring
	if r.Len() != 0 || r.Cap() != 0 {
		t.Fatalf("zero Ring: Len %d Cap %d", r.Len(), r.Cap())
	}
	if h, tl := r.Peek(-1); h != nil || tl != nil {
		t.Fatal("Peek on empty Ring returned data")
	}
	if c := r.Contiguous(-1); c != nil {
		t.Fatal("Contiguous on empty Ring returned data")
	}
	if n := r.Discard(10); n != 0 {
		t.Fatalf("Discard on empty Ring = %d", n)
	}
	if n, err := r.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read on empty Ring = %d, %v; want 0, EOF", n, err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) on empty Ring = %d, %v; want 0, nil", n, err)
	}
	// Never initialised: plain allocation, smallest class.
	r.Write([]byte("hello"))
	if r.Cap() != MinClass || r.Len() != 5 {
		t.Fatalf("after Write: Len %d Cap %d", r.Len(), r.Cap())
	}
	r.Release()
	if r.Cap() != 0 || r.Len() != 0 {
		t.Fatalf("after Release: Len %d Cap %d", r.Len(), r.Cap())
	}
}

func TestRingInitHoldsNoStorage(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 5000)
	if r.Cap() != 0 || p.Outstanding() != 0 {
		t.Fatalf("after Init: Cap %d Outstanding %d", r.Cap(), p.Outstanding())
	}
	r.Write([]byte{1})
	if r.Cap() != 8192 {
		t.Fatalf("minCap 5000: Cap %d, want 8192", r.Cap())
	}
	// Re-Init releases the storage to the old Pool.
	var q Pool
	r.Init(&q, 0)
	if r.Cap() != 0 || r.Len() != 0 || p.Outstanding() != 0 {
		t.Fatalf("after re-Init: Cap %d Len %d Outstanding %d", r.Cap(), r.Len(), p.Outstanding())
	}
	r.Write([]byte{1})
	if r.Cap() != MinClass || q.Outstanding() != 1 {
		t.Fatalf("after Write: Cap %d, q.Outstanding %d", r.Cap(), q.Outstanding())
	}
	r.Release()
}

func TestRingWrapAround(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 64)
	r.Write(pattern(0, 50))
	if n := r.Discard(40); n != 40 {
		t.Fatalf("Discard = %d", n)
	}
	r.Write(pattern(50, 40)) // 10 + 40 = 50 bytes: 24 at the end, 26 wrapped
	if r.Cap() != 64 {
		t.Fatalf("Cap %d, want 64 (no growth)", r.Cap())
	}
	h, tl := r.Peek(-1)
	if len(h) != 24 || len(tl) != 26 {
		t.Fatalf("Peek: head %d tail %d, want 24 26", len(h), len(tl))
	}
	if cap(h) != len(h) || cap(tl) != len(tl) {
		t.Fatal("Peek slices have spare capacity")
	}
	if got := contents(&r); !bytes.Equal(got, pattern(40, 50)) {
		t.Fatal("wrapped contents differ")
	}
	h, tl = r.Peek(20)
	if len(h) != 20 || tl != nil {
		t.Fatalf("Peek(20): head %d tail %d", len(h), len(tl))
	}
	r.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}

func TestRingGrowAcrossWrap(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 0)
	r.Write(pattern(0, 60))
	r.Discard(50)
	r.Write(pattern(60, 40)) // 50 bytes, wrapped
	r.Write(pattern(100, 100))
	if r.Cap() != 256 || r.Len() != 150 {
		t.Fatalf("Len %d Cap %d, want 150 256", r.Len(), r.Cap())
	}
	if _, tl := r.Peek(-1); tl != nil {
		t.Fatal("data still wrapped after growth")
	}
	if got := contents(&r); !bytes.Equal(got, pattern(50, 150)) {
		t.Fatal("contents differ after growth across the wrap")
	}
	if p.Outstanding() != 1 {
		t.Fatalf("Outstanding %d, want 1 (old storage returned)", p.Outstanding())
	}
	r.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}

func TestRingWriteAliasingOwnStorage(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 0)
	r.Write(pattern(0, 64))
	h, _ := r.Peek(-1)
	r.Write(h) // grows while reading from the old storage
	want := append(pattern(0, 64), pattern(0, 64)...)
	if got := contents(&r); !bytes.Equal(got, want) {
		t.Fatal("self-append produced wrong contents")
	}
	r.Release()
}

func TestRingContiguous(t *testing.T) {
	// Each case leaves 64-byte storage holding `stored` bytes from index
	// `start` on, wrapping: A = 64-start bytes at the end, then B at the
	// front, with a gap of 64-stored bytes between them.
	tests := []struct {
		name          string
		start, stored int
		want          int // bytes asked for, -1 for all
		sameStorage   bool
	}{
		{"no wrap in request", 40, 50, 24, true}, // only A: nothing moves
		{"gap fits B", 60, 10, -1, true},         // A=4 B=6 gap=54: slide A left
		{"gap fits A", 56, 40, -1, true},         // A=8 B=32 gap=24: slide B right
		{"gap fits A, partial", 56, 40, 9, true}, // same, asking for 9 bytes
		{"gap too small", 40, 50, -1, false},     // A=24 B=26 gap=14: new storage
		{"full", 32, 64, 33, false},              // no gap at all
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Pool
			var r Ring
			r.Init(&p, 64)
			r.Write(pattern(0, tt.start+1))
			r.Discard(tt.start) // keep one byte so positions do not reset
			r.Write(pattern(tt.start+1, tt.stored-1))
			if r.Cap() != 64 || r.head != tt.start {
				t.Fatalf("setup: Cap %d head %d", r.Cap(), r.head)
			}
			storage := unsafe.SliceData(r.buf)
			want := tt.want
			if want < 0 {
				want = tt.stored
			}
			c := r.Contiguous(tt.want)
			if !bytes.Equal(c, pattern(tt.start, want)) {
				t.Fatal("Contiguous returned wrong bytes")
			}
			if cap(c) != len(c) {
				t.Fatal("Contiguous result has spare capacity")
			}
			if got := contents(&r); !bytes.Equal(got, pattern(tt.start, tt.stored)) {
				t.Fatal("contents changed")
			}
			if same := unsafe.SliceData(r.buf) == storage; same != tt.sameStorage {
				t.Errorf("same storage = %v, want %v", same, tt.sameStorage)
			}
			if r.Cap() != 64 || p.Outstanding() != 1 {
				t.Fatalf("Cap %d Outstanding %d", r.Cap(), p.Outstanding())
			}
			r.Release()
			if p.Outstanding() != 0 {
				t.Fatalf("Outstanding %d", p.Outstanding())
			}
		})
	}
}

func TestRingEmptyResetsPositions(t *testing.T) {
	var r Ring
	r.Init(nil, 64)
	r.Write(pattern(0, 50))
	buf := make([]byte, 50)
	if n, err := r.Read(buf); n != 50 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	r.Write(pattern(50, 64)) // fills the buffer exactly, from index 0
	if h, tl := r.Peek(-1); len(h) != 64 || tl != nil || r.Cap() != 64 {
		t.Fatalf("Write after drain is not contiguous: head %d tail %d cap %d", len(h), len(tl), r.Cap())
	}
	r.Discard(64)
	r.Write([]byte{1})
	if r.head != 0 {
		t.Fatalf("head %d after Discard to empty", r.head)
	}
}

func TestRingRead(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 0)
	r.Write(pattern(0, 60))
	r.Discard(30)
	r.Write(pattern(60, 30)) // wrapped
	got, err := io.ReadAll(&r)
	if err != nil || !bytes.Equal(got, pattern(30, 60)) {
		t.Fatalf("ReadAll = %d bytes, %v", len(got), err)
	}
	if r.Cap() != 64 {
		t.Fatalf("Ring released its storage on becoming empty (Cap %d)", r.Cap())
	}
	r.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}

func TestRingShrink(t *testing.T) {
	var p Pool
	var r Ring
	r.Init(&p, 1024)
	r.Write(pattern(0, 1<<20)) // 1 MiB
	if r.Cap() != 1<<20 {
		t.Fatalf("Cap %d", r.Cap())
	}
	r.Discard(3 << 18) // 256 KiB left: exactly a quarter
	if r.Cap() != 512<<10 || r.Len() != 256<<10 {
		t.Fatalf("after Discard: Len %d Cap %d, want 256K 512K", r.Len(), r.Cap())
	}
	if got := contents(&r); !bytes.Equal(got, pattern(3<<18, 256<<10)) {
		t.Fatal("contents changed by shrinking")
	}
	r.Discard(256<<10 - 100) // 100 bytes left: down to minCap
	if r.Cap() != 1024 || !bytes.Equal(contents(&r), pattern(1<<20-100, 100)) {
		t.Fatalf("Cap %d, want 1024", r.Cap())
	}
	if p.Outstanding() != 1 {
		t.Fatalf("Outstanding %d, want 1", p.Outstanding())
	}
	// At or below the 64 KiB floor nothing shrinks.
	r.Write(pattern(0, 60<<10))
	r.Discard(60 << 10)
	if r.Cap() != 64<<10 {
		t.Fatalf("Cap %d, want 64K (no shrink at the floor)", r.Cap())
	}
	r.Release()
	// Nor at or below minCap.
	r.Init(&p, 256<<10)
	r.Write(pattern(0, 200<<10))
	r.Discard(200 << 10)
	if r.Cap() != 256<<10 {
		t.Fatalf("Cap %d, want 256K (no shrink at minCap)", r.Cap())
	}
	r.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}

func TestRingReleaseReturnsStorage(t *testing.T) {
	var p Pool
	rings := make([]Ring, 10)
	for i := range rings {
		rings[i].Init(&p, 0)
		rings[i].Write(pattern(0, 100*i+1))
	}
	if p.Outstanding() != 10 {
		t.Fatalf("Outstanding %d, want 10", p.Outstanding())
	}
	for i := range rings {
		rings[i].Release()
		rings[i].Release() // idempotent
	}
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d, want 0", p.Outstanding())
	}
}

func TestRingLargeGrowth(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocates over 128 MiB (slow under the race detector)")
	}
	var p Pool
	var r Ring
	r.Init(&p, 0)
	r.Write(make([]byte, MaxClass))
	r.Write([]byte{1}) // beyond the largest pooled class
	if r.Cap() != 2*MaxClass || p.Outstanding() != 1 {
		t.Fatalf("Cap %d Outstanding %d", r.Cap(), p.Outstanding())
	}
	r.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}

func TestRingContiguousAllLayouts(t *testing.T) {
	// Every start position and length in a 64-byte ring, every request size
	// that crosses the wrap: exercises each move strategy at its boundaries.
	var p Pool
	for start := range 64 {
		for stored := 1; stored <= 64; stored++ {
			for _, want := range []int{-1, 64 - start + 1} {
				var r Ring
				r.Init(&p, 64)
				r.Write(pattern(0, start+1))
				r.Discard(start)
				r.Write(pattern(start+1, stored-1))
				if want > stored || want < 0 {
					want = stored
				}
				c := r.Contiguous(want)
				if !bytes.Equal(c, pattern(start, want)) || !bytes.Equal(contents(&r), pattern(start, stored)) {
					t.Fatalf("start %d stored %d want %d: wrong contents", start, stored, want)
				}
				if r.Cap() != 64 {
					t.Fatalf("start %d stored %d: Cap %d", start, stored, r.Cap())
				}
				r.Release()
			}
		}
	}
	if p.Outstanding() != 0 {
		t.Fatalf("Outstanding %d", p.Outstanding())
	}
}
