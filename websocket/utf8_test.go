package websocket

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// validPrefixLen is the reference for fail-fast: the length of the
// longest prefix of b that can still be extended to valid UTF-8,
// computed by trying every completion of a trailing partial sequence
// with utf8.Valid (independently of the validator's tables).
func validPrefixLen(b []byte) int {
	n := 0
	for n < len(b) {
		r, size := utf8.DecodeRune(b[n:])
		if r != utf8.RuneError || size > 1 {
			n += size
			continue
		}
		// Invalid or truncated at n: extend byte by byte while some
		// completion exists.
		m := n
		for m < len(b) && canComplete(b[n:m+1]) {
			m++
		}
		return m
	}
	return n
}

// canComplete reports whether some bytes appended to p (at most 3) make
// it valid UTF-8, for a p of at most 4 bytes that starts a code point.
func canComplete(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	// A full (or already invalid) sequence that is not valid cannot be
	// completed; utf8.FullRune also spots a bad second or third byte,
	// which keeps the search below small.
	if len(p) >= 4 || utf8.FullRune(p) {
		return false
	}
	for c := 0x80; c <= 0xBF; c++ {
		if canComplete(append(bytes.Clone(p), byte(c))) {
			return true
		}
	}
	return false
}

// utf8Cases are the classic UTF-8 decoder stress cases (after Markus
// Kuhn's test file), plus some neighbours.
var utf8Cases = []string{
	"",
	"hello, world",
	"κόσμε",
	// First and last code points of each length.
	"\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
	"\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
	// Other boundaries.
	"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x90\x80\x80",
	// 5- and 6-byte forms and too-large values.
	"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", "\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf",
	// Lone continuation bytes.
	"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf\x80",
	// Lone lead bytes followed by a space.
	"\xc0 ", "\xc1 ", "\xc2 ", "\xdf ", "\xe0 ", "\xef ", "\xf0 ", "\xf4 ", "\xf5 ", "\xf7 ", "\xf8 ", "\xfb ", "\xfc ", "\xfd ",
	// Truncated sequences.
	"\xc2", "\xe0\xa0", "\xf0\x90\x80", "\xdf", "\xef\xbf", "\xf4\x8f\xbf",
	"\xc2\xe0\xa0\xf0\x90\x80\xdf\xef\xbf\xf4\x8f\xbf",
	"a\xe2\x82", "\xe2\x82\xacb\xe2",
	// Impossible bytes.
	"\xfe", "\xff", "\xfe\xfe\xff\xff",
	// Overlong ASCII and maximal overlongs.
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf",
	"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
	"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80",
	// Surrogates, single and paired.
	"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf",
	"\xed\xa0\x80\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf",
	// Noncharacters are valid UTF-8.
	"\xef\xbf\xbe", "\xef\xbf\xbf", "\xef\xb7\x90",
	// Errors after long ASCII runs, to cross the 8-byte fast path.
	strings.Repeat("a", 15) + "\x80",
	strings.Repeat("abcdefgh", 3) + "\xe2\x82\xac" + strings.Repeat("z", 9) + "\xed\xa0\x80",
	strings.Repeat("x", 7) + "\xf0\x9f\x98\x80" + strings.Repeat("y", 17),
	"Hello-µ@ßöäüàá-UTF-8!!" + strings.Repeat("€", 5) + "\xf4\x90\x80\x80",
}

// feedPieces feeds b split at the given cut points and returns the
// validator and whether every feed succeeded.
func feedPieces(b []byte, cuts ...int) (*utf8Validator, bool) {
	var v utf8Validator
	ok := true
	prev := 0
	for _, c := range append(cuts, len(b)) {
		if !v.feed(b[prev:c]) {
			ok = false
		}
		prev = c
	}
	return &v, ok
}

func TestUTF8Cases(t *testing.T) {
	for _, s := range utf8Cases {
		b := []byte(s)
		want := utf8.Valid(b)
		prefix := validPrefixLen(b)
		// Whole, and split at every position.
		for cut := 0; cut <= len(b); cut++ {
			v, ok := feedPieces(b, cut)
			if ok != (prefix == len(b)) {
				t.Errorf("%q cut at %d: feeds ok %v, want %v", s, cut, ok, prefix == len(b))
			}
			if v.complete() != want {
				t.Errorf("%q cut at %d: complete %v, want %v", s, cut, v.complete(), want)
			}
		}
		// Byte by byte: feed must fail exactly at the first byte that
		// makes the prefix invalid.
		var v utf8Validator
		failed := -1
		for i := range b {
			if !v.feed(b[i : i+1]) {
				failed = i
				break
			}
			if got := v.complete(); got != utf8.Valid(b[:i+1]) {
				t.Errorf("%q after %d bytes: complete %v", s, i+1, got)
			}
		}
		wantFail := -1
		if prefix < len(b) {
			wantFail = prefix
		}
		if failed != wantFail {
			t.Errorf("%q byte by byte: failed at %d, want %d", s, failed, wantFail)
		}
		if failed >= 0 {
			if v.feed([]byte("a")) || v.complete() {
				t.Errorf("%q: validator recovered after failing", s)
			}
			v.reset()
			if !v.feed([]byte("ok")) || !v.complete() {
				t.Errorf("%q: reset did not clear the failure", s)
			}
		}
	}
}

// TestUTF8AllTwoCuts splits a mixed text at every pair of positions.
func TestUTF8AllTwoCuts(t *testing.T) {
	b := []byte("ab€\U0001F600cdefghijκόσμε\u00e9\U0010FFFFxyz" + strings.Repeat("q", 10))
	bad := append(bytes.Clone(b[:20]), 0xed, 0xa0, 0x80)
	for _, s := range [][]byte{b, bad} {
		want := utf8.Valid(s)
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				v, ok := feedPieces(s, i, j)
				if ok != want || v.complete() != want {
					t.Fatalf("%q cut at %d,%d: ok %v complete %v, want %v", s, i, j, ok, v.complete(), want)
				}
			}
		}
	}
}

// TestUTF8EveryCodePoint checks every code point, and every surrogate
// encoded as if it were one, fed whole and byte by byte.
func TestUTF8EveryCodePoint(t *testing.T) {
	var buf [4]byte
	for r := rune(0); r <= 0x10FFFF; r++ {
		var b []byte
		if r >= 0xD800 && r <= 0xDFFF {
			b = []byte{0xED, byte(0x80 | (r>>6)&0x3F), byte(0x80 | r&0x3F)}
		} else {
			b = buf[:utf8.EncodeRune(buf[:], r)]
		}
		want := utf8.Valid(b)
		var v utf8Validator
		ok := v.feed(b)
		if ok != want || v.complete() != want {
			t.Fatalf("U+%04X %x: ok %v complete %v, want %v", r, b, ok, v.complete(), want)
		}
	}
}

func TestUTF8Allocs(t *testing.T) {
	b := []byte(strings.Repeat("héllo wörld ", 100))
	var v utf8Validator
	if a := testing.AllocsPerRun(100, func() {
		v.reset()
		v.feed(b[:7])
		v.feed(b[7:])
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func BenchmarkUTF8(b *testing.B) {
	ascii := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 400)
	mixed := strings.Repeat("Grüße, καλημέρα, こんにちは, 😀 and plain ASCII too. ", 400)
	for _, c := range []struct {
		name string
		text string
	}{{"ascii", ascii}, {"mixed", mixed}} {
		for _, n := range []int{64, 16 << 10} {
			p := []byte(c.text[:n])
			b.Run(c.name+"/"+sizeName(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(n))
				var v utf8Validator
				for b.Loop() {
					v.reset()
					v.feed(p)
				}
			})
			b.Run(c.name+"/"+sizeName(n)+"/stdlib", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					utf8.Valid(p)
				}
			})
		}
	}
}
