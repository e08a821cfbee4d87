package bufferpool

import (
	"strconv"
	"testing"
)

func BenchmarkPoolGetPut(b *testing.B) {
	for _, n := range []int{64, 4 << 10, 1 << 20} {
		b.Run(sizeName(n), func(b *testing.B) {
			var p Pool
			b.ReportAllocs()
			for b.Loop() {
				p.Put(p.Get(n))
			}
		})
	}
}

func BenchmarkPoolGetPutParallel(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Put(p.Get(4 << 10))
		}
	})
}

// BenchmarkRingWriteDiscard models a connection's outbound queue: small
// messages appended and, lagging behind, consumed.
func BenchmarkRingWriteDiscard(b *testing.B) {
	var p Pool
	var r Ring
	r.Init(&p, 4<<10)
	msg := pattern(0, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		r.Write(msg)
		if r.Len() >= 1000 {
			r.Discard(900)
		}
	}
	r.Release()
}

// BenchmarkRingContiguousWrap measures making a wrapped 1 KiB frame
// contiguous within a 4 KiB ring (the in-place move). Each iteration puts the
// frame back in its wrapped position by resetting the read position.
func BenchmarkRingContiguousWrap(b *testing.B) {
	var p Pool
	var r Ring
	r.Init(&p, 4<<10)
	r.Write(make([]byte, 4<<10))
	const head, n = 3<<10 + 512, 1 << 10
	b.ReportAllocs()
	b.SetBytes(n)
	for b.Loop() {
		r.head, r.n = head, n
		if len(r.Contiguous(-1)) != n {
			b.Fatal("short frame")
		}
	}
	r.Release()
}

// BenchmarkRingContiguousStream streams 1000-byte frames through a 4 KiB
// ring, taking each one contiguously; about a quarter of them wrap.
func BenchmarkRingContiguousStream(b *testing.B) {
	var p Pool
	var r Ring
	r.Init(&p, 4<<10)
	frame := pattern(0, 1000)
	r.Write(frame[:1]) // one byte always stays, so positions never reset
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r.Write(frame)
		if len(r.Contiguous(-1)) != len(frame)+1 {
			b.Fatal("short frame")
		}
		r.Discard(len(frame))
	}
	r.Release()
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
