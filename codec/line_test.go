package codec

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLineDecode(t *testing.T) {
	c := Must(NewLine(LineConfig{}))
	runDecodeCases(t, c, DefaultMaxLength, []decodeCase{
		{in: "", comment: "empty input"},
		{in: "abc", comment: "no newline"},
		{in: "abc\r", comment: "maybe CRLF"},
		{in: "abc\n", frame: "abc", n: 4},
		{in: "abc\r\n", frame: "abc", n: 5},
		{in: "\n", frame: "", n: 1, comment: "empty line"},
		{in: "\r\n", frame: "", n: 2, comment: "empty CRLF line"},
		{in: "\n\n", frame: "", n: 1},
		{in: "a\rb\n", frame: "a\rb", n: 4, comment: "inner CR kept"},
		{in: "a\r\r\n", frame: "a\r", n: 4, comment: "only one CR stripped"},
		{in: "\rx\n", frame: "\rx", n: 3},
		{in: "ab\ncd\n", frame: "ab", n: 3, comment: "first line only"},
		{in: "ab\r\ncd", frame: "ab", n: 4},
		{in: "x\x00\xff\n", frame: "x\x00\xff", n: 4, comment: "binary bytes"},
	})
}

func TestLineLimit(t *testing.T) {
	c := Must(NewLine(LineConfig{MaxLength: 3}))
	runDecodeCases(t, c, 3, []decodeCase{
		{in: "abc", comment: "at the limit, no newline yet"},
		{in: "abc\n", frame: "abc", n: 4},
		{in: "abc\r", comment: "CR may start the ending"},
		{in: "abc\r\n", frame: "abc", n: 5},
		{in: "abc\r\nxyzw", frame: "abc", n: 5, comment: "over-long next line not looked at"},
		{in: "abcd", err: ErrFrameTooLong, comment: "limit+1 bytes, no CR"},
		{in: "abcd\n", err: ErrFrameTooLong},
		{in: "abcd\r\n", err: ErrFrameTooLong},
		{in: "abc\rx", err: ErrFrameTooLong, comment: "CR was content after all"},
		{in: "abc\r\r", err: ErrFrameTooLong},
		{in: "abc\r\r\n", err: ErrFrameTooLong, comment: "line is abc\\r"},
		{in: strings.Repeat("x", 1000) + "\n", err: ErrFrameTooLong},
		{in: "\n" + strings.Repeat("x", 1000), frame: "", n: 1},
	})

	// The default limit: a line of exactly 64 KiB passes, one more byte fails
	// without waiting for the newline.
	d := Must(NewLine(LineConfig{}))
	long := bytes.Repeat([]byte{'y'}, DefaultMaxLength)
	if f, n, err := d.Decode(append(long, '\r', '\n')); err != nil || n != DefaultMaxLength+2 || len(f) != DefaultMaxLength {
		t.Errorf("max-length line: len %d, n %d, err %v", len(f), n, err)
	}
	if _, _, err := d.Decode(append(long, 'y')); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("max-length+1 line: err %v, want ErrFrameTooLong", err)
	}

	// A huge limit must not overflow.
	h := Must(NewLine(LineConfig{MaxLength: math.MaxInt}))
	runDecodeCases(t, h, math.MaxInt, []decodeCase{
		{in: "abc"},
		{in: "abc\r\n", frame: "abc", n: 5},
	})
}

func TestLineConfig(t *testing.T) {
	if _, err := NewLine(LineConfig{MaxLength: -1}); err == nil {
		t.Error("negative MaxLength accepted")
	}
}

func TestLineEncode(t *testing.T) {
	lf := Must(NewLine(LineConfig{}))
	crlf := Must(NewLine(LineConfig{CRLF: true}))
	for _, tc := range []struct {
		c     *Line
		frame string
		want  string
		err   error
	}{
		{lf, "abc", "abc\n", nil},
		{lf, "", "\n", nil},
		{lf, "a\rb", "a\rb\n", nil},
		{crlf, "abc", "abc\r\n", nil},
		{crlf, "", "\r\n", nil},
		{lf, "a\nb", "", ErrCorruptFrame},
		{lf, "ab\n", "", ErrCorruptFrame},
		{crlf, "a\nb", "", ErrCorruptFrame},
		{lf, "ab\r", "", ErrCorruptFrame},
		{crlf, "ab\r", "", ErrCorruptFrame},
	} {
		dst := []byte("prefix:")
		out, err := tc.c.Encode(dst, []byte(tc.frame))
		if tc.err != nil {
			if !errors.Is(err, tc.err) || string(out) != "prefix:" {
				t.Errorf("Encode(%q) = %q, %v; want dst unchanged and %v", tc.frame, out, err, tc.err)
			}
			continue
		}
		if err != nil || string(out) != "prefix:"+tc.want {
			t.Errorf("Encode(%q) = %q, %v; want %q", tc.frame, out, err, "prefix:"+tc.want)
		}
	}

	// Lines longer than MaxLength may be sent.
	small := Must(NewLine(LineConfig{MaxLength: 2}))
	if out, err := small.Encode(nil, []byte("abcdef")); err != nil || string(out) != "abcdef\n" {
		t.Errorf("over-limit Encode = %q, %v", out, err)
	}
}

func TestLineStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, crlf := range []bool{false, true} {
		c := Must(NewLine(LineConfig{MaxLength: 16, CRLF: crlf}))
		// '\r' may appear anywhere but at the end of a line.
		frames := randomFrames(rng, 60, 12, "ab\r ")
		for i, f := range frames {
			frames[i] = bytes.TrimRight(f, "\r")
		}
		checkStream(t, c, 16, frames, nil)
	}

	// Mixed endings, as a peer may send them.
	c := Must(NewLine(LineConfig{}))
	got, rest, err := decodeChunks(t, c, DefaultMaxLength, []byte("one\ntwo\r\n\r\nthree\r"), []byte("\nfour"))
	want := []string{"one", "two", "", "three"}
	if err != nil || string(rest) != "four" || len(got) != len(want) {
		t.Fatalf("got %q, rest %q, err %v", got, rest, err)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("frame %d = %q, want %q", i, got[i], want[i])
		}
	}
}
