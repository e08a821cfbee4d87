package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// textMessage returns n bytes of deterministic English-like text.
func textMessage(seed uint64, n int) []byte {
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "websocket",
		"frame", "message", "deflate", "window", "context", "takeover", "mill", "event", "loop",
		"{\"id\":", "\"name\":", "\"value\":", "true", "false", "null", "42", "3.14"}
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}

// randomMessage returns n pseudo-random (incompressible) bytes.
func randomMessage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// hexBytes turns "f2 48 cd" into bytes.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for _, f := range bytes.Fields([]byte(s)) {
		var v byte
		if _, err := fmt.Sscanf(string(f), "%x", &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestInflateRFCExamples(t *testing.T) {
	hello := "Hello"
	t.Run("7.2.3.1 one frame", func(t *testing.T) {
		var f inflater
		f.init(true)
		got, err := f.inflate(nil, hexBytes(t, "f2 48 cd c9 c9 07 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("7.2.3.1 two frames", func(t *testing.T) {
		var f inflater
		f.init(true)
		got, err := f.inflate(nil, hexBytes(t, "f2 48 cd"), false, 100)
		if err != nil || len(got) != 0 {
			t.Fatalf("%q %v", got, err)
		}
		got, err = f.inflate(got, hexBytes(t, "c9 c9 07 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("7.2.3.2 sharing the window", func(t *testing.T) {
		var f inflater
		f.init(false)
		got, err := f.inflate(nil, hexBytes(t, "f2 48 cd c9 c9 07 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("%q %v", got, err)
		}
		got, err = f.inflate(nil, hexBytes(t, "f2 00 11 00 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("second: %q %v", got, err)
		}
		// Without the window the back reference cannot resolve.
		var g inflater
		g.init(true)
		if got, err := g.inflate(nil, hexBytes(t, "f2 00 11 00 00"), true, 100); !errors.Is(err, ErrBadCompression) {
			t.Fatalf("without window: %q %v", got, err)
		}
	})
	t.Run("7.2.3.3 stored block", func(t *testing.T) {
		var f inflater
		f.init(true)
		got, err := f.inflate(nil, hexBytes(t, "00 05 00 fa ff 48 65 6c 6c 6f 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("7.2.3.4 BFINAL block", func(t *testing.T) {
		var f inflater
		f.init(false)
		for i := 0; i < 2; i++ {
			got, err := f.inflate(nil, hexBytes(t, "f3 48 cd c9 c9 07 00 00"), true, 100)
			if err != nil || string(got) != hello {
				t.Fatalf("%d: %q %v", i, got, err)
			}
		}
		// Tolerated: the final block with nothing after it.
		got, err := f.inflate(nil, hexBytes(t, "f3 48 cd c9 c9 07 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("without the 0x00: %q %v", got, err)
		}
	})
	t.Run("7.2.3.5 two blocks", func(t *testing.T) {
		var f inflater
		f.init(true)
		got, err := f.inflate(nil, hexBytes(t, "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), true, 100)
		if err != nil || string(got) != hello {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("empty messages", func(t *testing.T) {
		for _, s := range []string{"00", "02 00", "01", "03 00", "03 00 00"} {
			var f inflater
			f.init(false)
			got, err := f.inflate([]byte("x"), hexBytes(t, s), true, 100)
			if err != nil || string(got) != "x" {
				t.Fatalf("%q: %q %v", s, got, err)
			}
		}
	})
}

func TestInflateBad(t *testing.T) {
	bad := []string{
		"ff ff ff ff",                            // reserved block type
		"f2 48 cd c9 c9 07 00 ff",                // data after the sync block: an unfinished block
		"f3 48 cd c9 c9 07 00 00 00 00 ff ff",    // more than one 0x00 after a final block
		"f3 48 cd c9 c9 07 00 01",                // a non-zero byte after a final block
		"f3 48 cd c9 c9 07 00 f2 48 cd c9 c9 07", // a whole block after a final block
		"f2 48 cd",                               // cut inside a block
		"00 05 00 fa ff 48 65",                   // cut inside a stored block
		"00 05 00 00 00 48 65 6c 6c",             // NLEN not LEN's complement
		"f2 00 11 00 00",                         // reference before the start
	}
	for _, s := range bad {
		var f inflater
		f.init(true)
		got, err := f.inflate([]byte("ab"), hexBytes(t, s), true, 1000)
		if !errors.Is(err, ErrBadCompression) || string(got) != "ab" {
			t.Errorf("%s: %q %v", s, got, err)
		}
		if f.pending != nil {
			t.Errorf("%s: kept a buffer", s)
		}
	}
}

// deflateAll compresses msgs with a deflater of the given mode and
// returns the compressed messages.
func deflateAll(level int, noContext bool, msgs [][]byte) [][]byte {
	var d deflater
	d.init(level, noContext)
	defer d.release()
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = d.deflate(nil, m)
	}
	return out
}

func TestDeflateRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 125, 16 << 10, 1 << 20}
	var msgs [][]byte
	for i, n := range sizes {
		msgs = append(msgs, textMessage(uint64(i), n), randomMessage(uint64(i), n))
	}
	// Repeat so that later messages can refer to earlier ones.
	msgs = append(msgs, msgs...)
	for _, noContext := range []bool{false, true} {
		for _, level := range []int{flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
			t.Run(fmt.Sprintf("noContext=%v/level=%d", noContext, level), func(t *testing.T) {
				msgs := msgs
				if level != flate.BestSpeed && level != flate.HuffmanOnly {
					// The slow levels skip the 1 MiB messages.
					var small [][]byte
					for _, m := range msgs {
						if len(m) < 1<<20 {
							small = append(small, m)
						}
					}
					msgs = small
				}
				comp := deflateAll(level, noContext, msgs)
				var f inflater
				f.init(noContext)
				defer f.release()
				var buf []byte
				for i, c := range comp {
					var err error
					buf, err = f.inflate(buf[:0], c, true, 2<<20)
					if err != nil || !bytes.Equal(buf, msgs[i]) {
						t.Fatalf("message %d (%d bytes): %v, got %d bytes", i, len(msgs[i]), err, len(buf))
					}
					if noContext && (f.dict != nil || f.pending != nil) {
						t.Fatalf("no-context inflater holds state")
					}
					if !noContext && (cap(f.dict) != windowSize || f.pending != nil) {
						t.Fatalf("context inflater holds %d/%d and %v", len(f.dict), cap(f.dict), f.pending != nil)
					}
				}
				if noContext {
					// Every message inflates alone.
					for i, c := range comp {
						if got := oracleInflate(t, [][]byte{c}); !bytes.Equal(got, msgs[i]) {
							t.Fatalf("message %d alone differs", i)
						}
					}
				} else {
					// The messages with their tails are one DEFLATE stream.
					if got := oracleInflate(t, comp); !bytes.Equal(got, bytes.Join(msgs, nil)) {
						t.Fatalf("the stream of all messages differs")
					}
				}
			})
		}
	}
}

// oracleInflate inflates compressed messages, each followed by the
// 00 00 ff ff tail, as one stream with a fresh compress/flate reader.
func oracleInflate(t *testing.T, comp [][]byte) []byte {
	t.Helper()
	var in bytes.Buffer
	for _, c := range comp {
		in.Write(c)
		in.Write(deflateTail[:])
	}
	out, err := io.ReadAll(flate.NewReader(&in))
	if err != io.ErrUnexpectedEOF { // the stream has no final block
		t.Fatalf("oracle: %v", err)
	}
	return out
}

func TestDeflateContextCompressesBetter(t *testing.T) {
	msg := textMessage(3, 300)
	var ctx, noctx deflater
	ctx.init(flate.BestSpeed, false)
	noctx.init(flate.BestSpeed, true)
	defer ctx.release()
	first := len(ctx.deflate(nil, msg))
	second := len(ctx.deflate(nil, msg))
	alone := len(noctx.deflate(nil, msg))
	again := len(noctx.deflate(nil, msg))
	if second >= first/2 || alone != first || again != alone {
		t.Fatalf("context: %d then %d; no context: %d then %d", first, second, alone, again)
	}
	if noctx.w != nil {
		t.Fatal("no-context deflater holds a compressor")
	}
}

func TestDeflateAppends(t *testing.T) {
	var d deflater
	d.init(flate.BestSpeed, true)
	prefix := []byte("header")
	dst := append(make([]byte, 0, 4), prefix...)
	out := d.deflate(dst, []byte("hello hello hello"))
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("prefix lost: %q", out)
	}
	var f inflater
	f.init(true)
	got, err := f.inflate(nil, out[len(prefix):], true, 100)
	if err != nil || string(got) != "hello hello hello" {
		t.Fatalf("%q %v", got, err)
	}
	// An empty message: one octet 0x00 (an empty stored block's header).
	if e := d.deflate(nil, nil); !bytes.Equal(e, []byte{0}) {
		t.Fatalf("empty message: % x", e)
	}
	// Out-of-range levels fall back to BestSpeed.
	d.init(42, false)
	if d.level != flate.BestSpeed {
		t.Fatalf("level %d", d.level)
	}
	d.release()
}

func TestInflateFrameSplit(t *testing.T) {
	msgs := [][]byte{[]byte("Hello, Hello, Hello!"), textMessage(9, 200), randomMessage(9, 60)}
	for _, noContext := range []bool{true, false} {
		comp := deflateAll(flate.BestSpeed, noContext, msgs)
		// Split every message at every position (and in three at
		// every pair of positions for the first), one inflater for the
		// whole sequence of messages per split.
		maxLen := 0
		for _, c := range comp {
			maxLen = max(maxLen, len(c))
		}
		for i := 0; i <= maxLen; i++ {
			for j := i; j <= maxLen; j++ {
				if j > i && j > len(comp[0]) {
					break
				}
				var f inflater
				f.init(noContext)
				for k, c := range comp {
					a, b := min(i, len(c)), min(j, len(c))
					var got []byte
					var err error
					for _, part := range [][]byte{c[:a], c[a:b]} {
						if got, err = f.inflate(got, part, false, 1000); err != nil || len(got) != 0 {
							t.Fatalf("split %d,%d msg %d: %q %v", i, j, k, got, err)
						}
					}
					got, err = f.inflate(got, c[b:], true, 1000)
					if err != nil || !bytes.Equal(got, msgs[k]) {
						t.Fatalf("split %d,%d msg %d: %q %v", i, j, k, got, err)
					}
					if f.pending != nil {
						t.Fatal("buffer kept after the message")
					}
				}
			}
		}
	}
}

func TestInflateCopiesFrames(t *testing.T) {
	comp := deflateAll(flate.BestSpeed, true, [][]byte{textMessage(1, 500)})[0]
	var f inflater
	f.init(true)
	frame := append([]byte(nil), comp[:10]...)
	if _, err := f.inflate(nil, frame, false, 1000); err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 0xAA // the caller reuses its buffer
	}
	got, err := f.inflate(nil, comp[10:], true, 1000)
	if err != nil || !bytes.Equal(got, textMessage(1, 500)) {
		t.Fatalf("%v", err)
	}
}

func TestInflateBomb(t *testing.T) {
	zeros := make([]byte, 1<<20)
	comp := deflateAll(flate.BestCompression, true, [][]byte{zeros})[0]
	if len(comp) > 2048 {
		t.Fatalf("1 MiB of zeros compressed to %d bytes", len(comp))
	}
	const limit = 64 << 10
	var f inflater
	f.init(false)
	// Warm the pools so that what we measure is the message's cost.
	if _, err := f.inflate(nil, hexBytes(t, "f2 48 cd c9 c9 07 00"), true, limit); err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{0, len(comp) / 2} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var got []byte
		var err error
		if split > 0 {
			got, err = f.inflate(nil, comp[:split], false, limit)
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err = f.inflate(got, comp[split:], true, limit)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMessageTooBig) {
			t.Fatalf("split %d: %v", split, err)
		}
		if cap(got) > limit+1 {
			t.Fatalf("dst grew to %d", cap(got))
		}
		// The output buffer (under 2×limit while doubling) and perhaps a
		// new decompressor (the race detector's pools drop items), far
		// below the message's 1 MiB.
		if n := after.TotalAlloc - before.TotalAlloc; n > 2*limit+256<<10 {
			t.Fatalf("split %d: allocated %d bytes", split, n)
		}
	}
	// With room enough it inflates; with the exact size too.
	for _, limit := range []int{1 << 20, 2 << 20} {
		var g inflater
		g.init(true)
		got, err := g.inflate(nil, comp, true, limit)
		if err != nil || !bytes.Equal(got, zeros) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
	var g inflater
	g.init(true)
	if _, err := g.inflate(nil, comp, true, 1<<20-1); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("one byte short: %v", err)
	}
	// A preset dst counts against the limit.
	if _, err := g.inflate(make([]byte, 10), hexBytes(t, "f2 48 cd c9 c9 07 00"), true, 14); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("dst counted: %v", err)
	}
}

func TestInflatePendingLimit(t *testing.T) {
	comp := deflateAll(flate.BestSpeed, true, [][]byte{randomMessage(5, 8000)})[0]
	var f inflater
	f.init(true)
	const limit = 1000
	var err error
	for off := 0; off < len(comp) && err == nil; off += 500 {
		_, err = f.inflate(nil, comp[off:min(off+500, len(comp))], false, limit)
	}
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("%v", err)
	}
	if f.pending != nil {
		t.Fatal("buffer kept after the failure")
	}
	// The connection would close; a fresh message still works.
	got, err := f.inflate(nil, hexBytes(t, "f2 48 cd c9 c9 07 00"), true, limit)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestInflateWindowSlides(t *testing.T) {
	// Many small messages with context: the window holds the last 32 KiB
	// of all of them, and back references into older messages resolve.
	msgs := make([][]byte, 400)
	for i := range msgs {
		msgs[i] = textMessage(uint64(i%7), 100+i%150)
	}
	comp := deflateAll(flate.DefaultCompression, false, msgs)
	var f inflater
	f.init(false)
	var all []byte
	for i, c := range comp {
		got, err := f.inflate(nil, c, true, 1<<16)
		if err != nil || !bytes.Equal(got, msgs[i]) {
			t.Fatalf("message %d: %v", i, err)
		}
		all = append(all, got...)
		want := all[max(0, len(all)-windowSize):]
		if !bytes.Equal(f.dict, want) {
			t.Fatalf("message %d: window of %d bytes differs", i, len(f.dict))
		}
	}
	f.release()
	if f.dict != nil {
		t.Fatal("release kept the window")
	}
}

// benchMessage returns the benchmark's payload of n bytes of text.
func benchMessage(n int) []byte { return textMessage(1, n) }

func BenchmarkDeflate(b *testing.B) {
	for _, n := range []int{64, 16 << 10} {
		for _, noContext := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dB/noContext=%v", n, noContext), func(b *testing.B) {
				msg := benchMessage(n)
				var d deflater
				d.init(flate.BestSpeed, noContext)
				defer d.release()
				buf := make([]byte, 0, 2*n+64)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					buf = d.deflate(buf[:0], msg)
				}
			})
		}
	}
}

func BenchmarkInflate(b *testing.B) {
	for _, n := range []int{64, 16 << 10} {
		for _, noContext := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dB/noContext=%v", n, noContext), func(b *testing.B) {
				// With context, every iteration inflates the same
				// message compressed alone: valid with any window.
				comp := deflateAll(flate.BestSpeed, true, [][]byte{benchMessage(n)})[0]
				var f inflater
				f.init(noContext)
				defer f.release()
				buf := make([]byte, 0, n)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					var err error
					if buf, err = f.inflate(buf[:0], comp, true, 1<<20); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
