package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// checkResult asserts the Decoder contract for one Decode(in) call of a
// built-in decoder whose frames are at most maxFrame bytes long. before is
// a copy of in taken before the call.
func checkResult(t testing.TB, before, in, frame []byte, n int, err error, maxFrame int) {
	t.Helper()
	if !bytes.Equal(before, in) {
		t.Fatalf("Decode modified its input: %q, was %q", in, before)
	}
	if n < 0 || n > len(in) {
		t.Fatalf("n = %d, want 0 <= n <= %d", n, len(in))
	}
	if err != nil {
		if !errors.Is(err, ErrFrameTooLong) && !errors.Is(err, ErrCorruptFrame) {
			t.Fatalf("error %v wraps neither sentinel", err)
		}
		if n != 0 || frame != nil {
			t.Fatalf("error %v with n = %d, frame %q", err, n, frame)
		}
		return
	}
	if n == 0 {
		if frame != nil {
			t.Fatalf("incomplete (n == 0) but frame %q", frame)
		}
		return
	}
	if frame == nil {
		t.Fatalf("n = %d but frame is nil", n)
	}
	if len(frame) > maxFrame {
		t.Fatalf("frame of %d bytes exceeds limit %d", len(frame), maxFrame)
	}
	if len(frame) > n {
		t.Fatalf("frame of %d bytes from n = %d bytes", len(frame), n)
	}
	if cap(frame) != len(frame) {
		t.Fatalf("frame cap %d != len %d", cap(frame), len(frame))
	}
	if !aliases(in, frame) {
		t.Fatalf("frame does not alias the input")
	}
}

// aliases reports whether frame lies within in[:len(in)].
func aliases(in, frame []byte) bool {
	if len(in) == 0 {
		return len(frame) == 0
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
	return p >= lo && p+uintptr(len(frame)) <= lo+uintptr(len(in))
}

// decodeChunks simulates a connection's input buffer: it appends each chunk,
// decodes in a loop, checking every result, and drops the bytes each frame
// used, compacting the buffer (which overwrites them) after each chunk.
// It returns copies of the frames, the undecoded rest and the first error.
func decodeChunks(t testing.TB, dec Decoder, maxFrame int, chunks ...[]byte) (frames [][]byte, rest []byte, err error) {
	t.Helper()
	var buf []byte
	for _, chunk := range chunks {
		buf = append(buf, chunk...)
		off := 0
		for {
			in := buf[off:]
			before := bytes.Clone(in)
			frame, n, err := dec.Decode(in)
			checkResult(t, before, in, frame, n, err, maxFrame)
			if err != nil {
				return frames, in, err
			}
			if n == 0 {
				break
			}
			frames = append(frames, bytes.Clone(frame))
			off += n
		}
		buf = append(buf[:0], buf[off:]...)
	}
	return frames, buf, nil
}

// checkStream encodes frames back to back with c, then decodes the stream
// split in every way that matters: in one piece, in two pieces at every
// byte boundary, one byte at a time and in random pieces. Each way must give
// back want, which defaults to frames, and leave nothing over.
func checkStream(t *testing.T, c Codec, maxFrame int, frames, want [][]byte) {
	t.Helper()
	if want == nil {
		want = frames
	}
	var stream []byte
	for _, f := range frames {
		var err error
		if stream, err = c.Encode(stream, f); err != nil {
			t.Fatalf("Encode(%q): %v", f, err)
		}
	}
	check := func(how string, chunks ...[]byte) {
		t.Helper()
		got, rest, err := decodeChunks(t, c, maxFrame, chunks...)
		if err != nil {
			t.Fatalf("%s: error %v after %d frames", how, err, len(got))
		}
		if len(rest) != 0 {
			t.Fatalf("%s: %d bytes left over", how, len(rest))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d frames, want %d", how, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: frame %d is %q, want %q", how, i, got[i], want[i])
			}
		}
	}
	check("one piece", stream)
	for k := range len(stream) + 1 {
		check(fmt.Sprintf("split at %d", k), stream[:k], stream[k:])
	}
	bytewise := make([][]byte, len(stream))
	for i := range stream {
		bytewise[i] = stream[i : i+1]
	}
	check("byte at a time", bytewise...)
	rng := rand.New(rand.NewPCG(1, uint64(len(stream))))
	for range 20 {
		var chunks [][]byte
		for rest := stream; len(rest) > 0; {
			k := min(len(rest), rng.IntN(17))
			chunks, rest = append(chunks, rest[:k]), rest[k:]
		}
		check("random pieces", chunks...)
	}
}

// randomFrames returns count frames of up to maxLen bytes drawn from alphabet.
func randomFrames(rng *rand.Rand, count, maxLen int, alphabet string) [][]byte {
	frames := make([][]byte, count)
	for i := range frames {
		f := make([]byte, rng.IntN(maxLen+1))
		for j := range f {
			f[j] = alphabet[rng.IntN(len(alphabet))]
		}
		frames[i] = f
	}
	return frames
}

// decodeCase is one Decode call and its expected outcome.
type decodeCase struct {
	in      string
	frame   string
	n       int   // 0: incomplete, or an error if err is set
	err     error // sentinel the error must wrap
	comment string
}

// runDecodeCases runs cases against dec.
func runDecodeCases(t *testing.T, dec Decoder, maxFrame int, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		in := []byte(tc.in)
		before := bytes.Clone(in)
		frame, n, err := dec.Decode(in)
		checkResult(t, before, in, frame, n, err, maxFrame)
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("Decode(%q) [%s]: error %v, want %v", tc.in, tc.comment, err, tc.err)
			}
		case err != nil:
			t.Errorf("Decode(%q) [%s]: unexpected error %v", tc.in, tc.comment, err)
		case n != tc.n || string(frame) != tc.frame:
			t.Errorf("Decode(%q) [%s] = %q, %d; want %q, %d", tc.in, tc.comment, frame, n, tc.frame, tc.n)
		}
	}
}

func TestShared(t *testing.T) {
	c := Must(NewLine(LineConfig{}))
	f := Shared(c)
	if f() != Codec(c) || f() != f() {
		t.Fatal("Shared factory returned a different codec")
	}
}

func TestMust(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Must did not panic on an error")
		}
	}()
	Must(NewLine(LineConfig{MaxLength: -1}))
}

// Every built-in codec satisfies Codec.
var (
	_ Codec = (*Line)(nil)
	_ Codec = (*Delimiter)(nil)
	_ Codec = (*Fixed)(nil)
	_ Codec = (*LengthField)(nil)
)
