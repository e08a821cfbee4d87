package websocket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"unsafe"
)

// naiveMask is the reference: a plain byte loop.
func naiveMask(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// patternBytes returns n bytes of a non-repeating-looking pattern.
func patternBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestMaskMatchesNaive(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for n := 0; n <= 300; n++ {
		for pos := 0; pos < 4; pos++ {
			for off := 0; off < 8; off++ { // unaligned starts
				buf := patternBytes(off+n+8, byte(n))
				want := bytes.Clone(buf)
				wantPos := naiveMask(key, pos, want[off:off+n])

				got := bytes.Clone(buf)
				if p := maskBytes(key, pos, got[off:off+n]); p != wantPos {
					t.Fatalf("maskBytes n=%d pos=%d off=%d: offset %d, want %d", n, pos, off, p, wantPos)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("maskBytes n=%d pos=%d off=%d: wrong bytes (or wrote outside b)", n, pos, off)
				}

				// maskCopy, in place.
				got = bytes.Clone(buf)
				if p := maskCopy(got[off:off+n], got[off:off+n], key, pos); p != wantPos || !bytes.Equal(got, want) {
					t.Fatalf("maskCopy in place n=%d pos=%d off=%d: offset %d want %d, equal %v", n, pos, off, p, wantPos, bytes.Equal(got, want))
				}

				// maskCopy to a separate, differently aligned buffer.
				dst := make([]byte, n+16)
				for i := range dst {
					dst[i] = 0xEE
				}
				doff := (off + 3) & 7
				if p := maskCopy(dst[doff:], buf[off:off+n], key, pos); p != wantPos {
					t.Fatalf("maskCopy n=%d pos=%d off=%d: offset %d, want %d", n, pos, off, p, wantPos)
				}
				if !bytes.Equal(dst[doff:doff+n], want[off:off+n]) {
					t.Fatalf("maskCopy n=%d pos=%d off=%d: wrong bytes", n, pos, off)
				}
				for i, c := range dst {
					if (i < doff || i >= doff+n) && c != 0xEE {
						t.Fatalf("maskCopy n=%d pos=%d off=%d: wrote dst[%d] outside dst[:len(src)]", n, pos, off, i)
					}
				}
				if !bytes.Equal(buf, patternBytes(off+n+8, byte(n))) {
					t.Fatalf("maskCopy n=%d: modified src", n)
				}
			}
		}
	}
}

// TestMaskPieces unmasks a payload in pieces of every size, carrying
// the offset along, as a reader does with partial frames.
func TestMaskPieces(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	src := patternBytes(200, 9)
	want := bytes.Clone(src)
	naiveMask(key, 0, want)
	for step := 1; step <= 40; step++ {
		got := bytes.Clone(src)
		pos := 0
		for i := 0; i < len(got); i += step {
			pos = maskBytes(key, pos, got[i:min(i+step, len(got))])
		}
		if !bytes.Equal(got, want) || pos != len(src)&3 {
			t.Fatalf("step %d: wrong result", step)
		}
	}
}

func TestMaskZeroAllocs(t *testing.T) {
	b := make([]byte, 1000)
	d := make([]byte, 1000)
	key := [4]byte{9, 8, 7, 6}
	if a := testing.AllocsPerRun(100, func() {
		maskBytes(key, 1, b)
		maskCopy(d, b, key, 3)
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

// maskUnsafe is maskBytes with unsafe unaligned 64-bit loads, kept only
// to compare speeds in BenchmarkMask.
func maskUnsafe(key [4]byte, pos int, b []byte) int {
	pos &= 3
	end := (pos + len(b)) & 3
	if len(b) >= 8 {
		kw := maskWord(key, pos)
		p := unsafe.Pointer(unsafe.SliceData(b))
		i := 0
		for ; i+8 <= len(b); i += 8 {
			w := (*uint64)(unsafe.Add(p, i))
			*w ^= kw
		}
		b = b[i:]
	}
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return end
}

func TestMaskUnsafeReference(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("big-endian: the unsafe variant assumes little-endian")
	}
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	for n := 0; n < 100; n++ {
		for pos := 0; pos < 4; pos++ {
			a := patternBytes(n+1, 3)[1:]
			b := bytes.Clone(a)
			naiveMask(key, pos, a)
			maskUnsafe(key, pos, b)
			if !bytes.Equal(a, b) {
				t.Fatalf("n=%d pos=%d", n, pos)
			}
		}
	}
}

var maskSizes = []int{64, 1 << 10, 16 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range maskSizes {
		buf := make([]byte, n+1)[1:] // unaligned start
		dst := make([]byte, n)
		b.Run("bytes/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				maskBytes(key, 1, buf)
			}
		})
		b.Run("copy/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				maskCopy(dst, buf, key, 1)
			}
		})
		b.Run("unsafe/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				maskUnsafe(key, 1, buf)
			}
		})
		b.Run("naive/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				naiveMask(key, 1, buf)
			}
		})
	}
}
