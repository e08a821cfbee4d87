package main

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPatternVerify(t *testing.T) {
	for _, size := range []int{1, 5, 12, 64, 4096} {
		p := newPattern(7, size)
		msg := make([]byte, size)
		scratch := make([]byte, size)
		for seq := uint64(0); seq < 300; seq++ {
			p.fill(msg, seq)
			if err := p.verify(msg, scratch, seq); err != nil {
				t.Fatalf("size %d seq %d: valid echo rejected: %v", size, seq, err)
			}
		}
		// Corruption of any single byte is detected.
		p.fill(msg, 3)
		for i := 0; i < size; i++ {
			msg[i] ^= 0x40
			if err := p.verify(msg, scratch, 3); err == nil {
				t.Fatalf("size %d: corrupted byte %d not detected", size, i)
			}
			msg[i] ^= 0x40
		}
		// An echo of another sequence number (misordering) is detected once
		// the message is long enough to carry the sequence number.
		p.fill(msg, 4)
		if err := p.verify(msg, scratch, 3); err == nil && size > 4 {
			t.Fatalf("size %d: misordered echo not detected", size)
		}
		// An echo of another connection's message is detected.
		newPattern(8, size).fill(msg, 3)
		if err := p.verify(msg, scratch, 3); err == nil {
			t.Fatalf("size %d: cross-connection echo not detected", size)
		}
		// Truncation is detected.
		if size > 1 {
			p.fill(msg, 3)
			if err := p.verify(msg[:size-1], scratch, 3); err == nil {
				t.Fatalf("size %d: truncated echo not detected", size)
			}
		}
	}
}

func TestVerifyErrorNamesHeader(t *testing.T) {
	p := newPattern(1, 64)
	msg, scratch := make([]byte, 64), make([]byte, 64)
	p.fill(msg, 10)
	err := p.verify(msg, scratch, 11)
	var me mismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "conn 1 seq 10") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestVerifyNoAlloc(t *testing.T) {
	p := newPattern(1, 512)
	msg, scratch := make([]byte, 512), make([]byte, 512)
	p.fill(msg, 99)
	allocs := testing.AllocsPerRun(100, func() {
		p.fill(msg, 99)
		_ = p.verify(msg, scratch, 99)
	})
	if allocs != 0 {
		t.Fatalf("fill+verify allocates %v times", allocs)
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value lies within its bucket's range; ranges are contiguous.
	prevHi := uint64(0)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d range [%d,%d] maps to %d,%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
	if bucketOf(^uint64(0)) != numBuckets-1 {
		t.Fatalf("huge value not clamped to last bucket")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b histogram
	// 1..100000 ns, split over two histograms and merged.
	for v := uint64(1); v <= 100000; v++ {
		if v%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	a.merge(&b)
	if a.total != 100000 || a.min != 1 || a.max != 100000 {
		t.Fatalf("total=%d min=%d max=%d", a.total, a.min, a.max)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50000}, {0.9, 90000}, {0.99, 99000}, {0.999, 99900}, {1, 100000}} {
		got := float64(a.quantile(c.q))
		if got < c.want || got > c.want*(1+1.0/subBuckets) {
			t.Errorf("q%.3f = %.0f, want %.0f within %.1f%%", c.q, got, c.want, 100.0/subBuckets)
		}
	}
	if m := a.mean(); m != 50000.5 {
		t.Errorf("mean = %v", m)
	}
	allocs := testing.AllocsPerRun(100, func() { a.record(12345) })
	if allocs != 0 {
		t.Fatalf("record allocates")
	}
}

// TestLoadAgainstEcho runs a short load against an in-process echo server and
// against a server that corrupts one byte, which must be reported as an error.
func TestLoadAgainstEcho(t *testing.T) {
	phaseOut = io.Discard
	run := func(corrupt bool) Result {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 4096)
					total := 0
					for {
						n, err := c.Read(buf)
						if corrupt && total < 100 && total+n >= 100 {
							buf[100-total-1] ^= 1
						}
						total += n
						if n > 0 {
							if _, werr := c.Write(buf[:n]); werr != nil {
								return
							}
						}
						if err != nil {
							return
						}
					}
				}()
			}
		}()
		o := options{addr: ln.Addr().String(), conns: 4, size: 40, pipeline: 3,
			duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, ioTimeout: 2 * time.Second,
			dial: dialConfig{addr: ln.Addr().String(), conc: 2, retries: 2, timeout: 5 * time.Second}}
		return runLoad(o)
	}
	r := run(false)
	if r.Errors != 0 || r.Messages == 0 || r.Established != 4 {
		t.Fatalf("clean run: %+v", r)
	}
	printHuman(io.Discard, r)
	r = run(true)
	if r.Errors == 0 || !strings.Contains(r.FirstError, "mismatch") {
		t.Fatalf("corruption not reported: %+v", r)
	}
}
