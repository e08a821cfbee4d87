package codec

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func delims(ds ...string) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = []byte(d)
	}
	return out
}

func TestDelimiterDecode(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   DelimiterConfig
		cases []decodeCase
	}{
		{"single", DelimiterConfig{Delimiters: delims("||")}, []decodeCase{
			{in: ""},
			{in: "abc"},
			{in: "abc|", comment: "half a delimiter"},
			{in: "abc||", frame: "abc", n: 5},
			{in: "||", frame: "", n: 2, comment: "empty frame"},
			{in: "a|b||c", frame: "a|b", n: 5, comment: "partial match inside frame"},
			{in: "a|||", frame: "a", n: 3, comment: "overlap: first occurrence wins"},
		}},
		{"line-like", DelimiterConfig{Delimiters: delims("\n", "\r\n")}, []decodeCase{
			{in: "ab\r\n", frame: "ab", n: 4, comment: "same end: longer delimiter wins"},
			{in: "ab\n", frame: "ab", n: 3},
			{in: "ab\r", comment: "may become \\r\\n"},
			{in: "a\rb\n", frame: "a\rb", n: 4},
		}},
		{"prefix delimiters", DelimiterConfig{Delimiters: delims("\r\n", "\r")}, []decodeCase{
			{in: "ab\r\ncd", frame: "ab", n: 3, comment: "\\r completes first"},
			{in: "ab\r", frame: "ab", n: 3},
		}},
		{"infix delimiters", DelimiterConfig{Delimiters: delims("abcd", "bc")}, []decodeCase{
			{in: "xabcd", frame: "xa", n: 4, comment: "bc ends before abcd"},
			{in: "xab", comment: "nothing complete yet"},
		}},
		{"suffix delimiters", DelimiterConfig{Delimiters: delims("cd", "abcd")}, []decodeCase{
			{in: "xabcd", frame: "x", n: 5, comment: "same end: shortest frame"},
			{in: "xcd", frame: "x", n: 3},
		}},
		{"earliest end, not list order", DelimiterConfig{Delimiters: delims("Z", "Y")}, []decodeCase{
			{in: "aYbZ", frame: "a", n: 2},
			{in: "aZbY", frame: "a", n: 2},
		}},
		{"keep", DelimiterConfig{Delimiters: delims("\n", "\r\n"), KeepDelimiter: true}, []decodeCase{
			{in: "ab\r\ncd", frame: "ab\r\n", n: 4},
			{in: "\n", frame: "\n", n: 1},
		}},
		{"limit", DelimiterConfig{Delimiters: delims("END"), MaxLength: 3}, []decodeCase{
			{in: "abc"},
			{in: "abcEN", comment: "EN may become END"},
			{in: "abcEND", frame: "abc", n: 6},
			{in: "abEND", frame: "ab", n: 5},
			{in: "ENDabcd", frame: "", n: 3},
			{in: "abcd", err: ErrFrameTooLong, comment: "d cannot start END"},
			{in: "abcE" + "x", err: ErrFrameTooLong},
			{in: "abcENx", err: ErrFrameTooLong},
			{in: "abcdEND", err: ErrFrameTooLong},
			{in: strings.Repeat("x", 10000) + "END", err: ErrFrameTooLong},
		}},
		{"limit, keep", DelimiterConfig{Delimiters: delims("END"), MaxLength: 3, KeepDelimiter: true}, []decodeCase{
			{in: "abcEND", frame: "abcEND", n: 6, comment: "limit excludes the delimiter"},
			{in: "abcd", err: ErrFrameTooLong},
		}},
		{"limit, several", DelimiterConfig{Delimiters: delims("\n", "\r\n"), MaxLength: 3}, []decodeCase{
			{in: "abc\r"},
			{in: "abc\r\n", frame: "abc", n: 5},
			{in: "abcd", err: ErrFrameTooLong},
		}},
		{"first end beyond limit", DelimiterConfig{Delimiters: delims("XYZW", "Z"), MaxLength: 3}, []decodeCase{
			{in: "abcXY", comment: "XYZW may still end a 3-byte frame"},
			{in: "abcXYZ", err: ErrFrameTooLong, comment: "Z ends a 5-byte frame first"},
			{in: "abcXYZW", err: ErrFrameTooLong},
		}},
		{"huge limit", DelimiterConfig{Delimiters: delims("||"), MaxLength: math.MaxInt}, []decodeCase{
			{in: "abc|"},
			{in: "abc||", frame: "abc", n: 5},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewDelimiter(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			limit := tt.cfg.MaxLength
			if limit == 0 {
				limit = DefaultMaxLength
			}
			if tt.cfg.KeepDelimiter {
				longest := 0
				for _, d := range tt.cfg.Delimiters {
					longest = max(longest, len(d))
				}
				limit += longest
			}
			runDecodeCases(t, c, limit, tt.cases)
		})
	}
}

func TestDelimiterConfig(t *testing.T) {
	for _, cfg := range []DelimiterConfig{
		{},
		{Delimiters: [][]byte{}},
		{Delimiters: delims("")},
		{Delimiters: delims("\n", "")},
		{Delimiters: delims("\n"), MaxLength: -1},
	} {
		if _, err := NewDelimiter(cfg); err == nil {
			t.Errorf("NewDelimiter(%q) accepted an invalid config", cfg.Delimiters)
		}
	}

	// The codec keeps its own copy of the delimiters.
	ds := delims("||")
	c := Must(NewDelimiter(DelimiterConfig{Delimiters: ds}))
	ds[0][0] = 'x'
	if f, n, err := c.Decode([]byte("ab||")); err != nil || n != 4 || string(f) != "ab" {
		t.Errorf("after caller changed its slice: %q, %d, %v", f, n, err)
	}
}

func TestDelimiterEncode(t *testing.T) {
	for _, tc := range []struct {
		ds    [][]byte
		frame string
		want  string
		err   error
	}{
		{delims("||"), "abc", "abc||", nil},
		{delims("||"), "", "||", nil},
		{delims("||"), "a|b", "a|b||", nil},
		{delims("||"), "a|", "", ErrCorruptFrame},
		{delims("||"), "a||b", "", ErrCorruptFrame},
		{delims("\r\n", "\n"), "abc", "abc\r\n", nil},
		{delims("\r\n", "\n"), "ab\r", "ab\r\r\n", nil},
		{delims("\r\n", "\n"), "a\nb", "", ErrCorruptFrame},
		{delims("\n", "\r\n"), "ab\r", "", ErrCorruptFrame},
		{delims("\n", "\r\n"), "ab", "ab\n", nil},
		{delims("abcd", "bc"), "x", "", ErrCorruptFrame},
		{delims("bc", "abcd"), "x", "xbc", nil},
		{delims("bc", "abc"), "xa", "", ErrCorruptFrame},
	} {
		c := Must(NewDelimiter(DelimiterConfig{Delimiters: tc.ds, MaxLength: 1}))
		dst := []byte("prefix:")
		out, err := c.Encode(dst, []byte(tc.frame))
		if tc.err != nil {
			if !errors.Is(err, tc.err) || string(out) != "prefix:" {
				t.Errorf("%q: Encode(%q) = %q, %v; want dst unchanged and %v", tc.ds, tc.frame, out, err, tc.err)
			}
			continue
		}
		if err != nil || string(out) != "prefix:"+tc.want {
			t.Errorf("%q: Encode(%q) = %q, %v; want %q", tc.ds, tc.frame, out, err, "prefix:"+tc.want)
		}
	}
}

func TestDelimiterStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, ds := range [][][]byte{
		delims("\n"),
		delims("||"),
		delims("\r\n", "\n"),
		delims("abc", "c", "ca"),
	} {
		c := Must(NewDelimiter(DelimiterConfig{Delimiters: ds, MaxLength: 12}))
		var frames [][]byte
		for _, f := range randomFrames(rng, 200, 10, "abc|\r\n ") {
			if out, err := c.Encode(nil, f); err == nil && len(out) > 0 {
				frames = append(frames, f)
			}
			if len(frames) == 50 {
				break
			}
		}
		checkStream(t, c, 12, frames, nil)
	}

	// With KeepDelimiter, frames come back with the first delimiter.
	c := Must(NewDelimiter(DelimiterConfig{Delimiters: delims(";", "."), KeepDelimiter: true}))
	frames := randomFrames(rng, 40, 6, "xyz")
	want := make([][]byte, len(frames))
	for i, f := range frames {
		want[i] = append(f[:len(f):len(f)], ';')
	}
	checkStream(t, c, DefaultMaxLength+1, frames, want)
}
