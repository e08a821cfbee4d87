package websocket

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unicode/utf8"
)

// FuzzParseHeader parses arbitrary bytes: never a panic; a parsed
// header re-encodes to the same fields, and to the same bytes when the
// original used the minimal length encoding.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05})
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d})
	f.Add([]byte{0x82, 0x7E, 0x01, 0x00})
	f.Add([]byte{0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 9, 9, 9, 9})
	f.Add([]byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0x7E, 0x00, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil {
			if n != 0 || len(b) < 10 || b[1]&0x7F != 127 || b[2]&0x80 == 0 {
				t.Fatalf("%x: unexpected error %v (n=%d)", b, err, n)
			}
			return
		}
		if n == 0 {
			if len(b) >= maxHeaderLen {
				t.Fatalf("%x: incomplete with %d bytes", b, len(b))
			}
			return
		}
		if n > len(b) || n > maxHeaderLen || h.length < 0 {
			t.Fatalf("%x: n=%d length=%d", b, n, h.length)
		}
		if int64(int(h.length)) != h.length {
			return // does not fit an int here
		}
		enc := appendHeader(nil, h.fin, h.rsv, h.op, int(h.length), h.masked, h.key)
		h2, n2, err := parseHeader(enc)
		if err != nil || n2 != len(enc) || h2 != h {
			t.Fatalf("%x: re-encoded %x parses as %+v n=%d err=%v, want %+v", b, enc, h2, n2, err, h)
		}
		if len(enc) == n && !bytes.Equal(enc, b[:n]) {
			t.Fatalf("%x: minimal header re-encodes as %x", b[:n], enc)
		}
		if len(enc) > n {
			t.Fatalf("%x: re-encoding %x is longer than the original", b[:n], enc)
		}
	})
}

// FuzzUTF8 feeds random bytes split at random points and compares with
// utf8.Valid, and the point of failure with validPrefixLen.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("hello, κόσμε"), []byte{3, 1})
	f.Add([]byte("\xed\xa0\x80"), []byte{1})
	f.Add([]byte("\xf4\x90\x80\x80abc"), []byte{2, 0, 5})
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz012345€\xf0\x9f\x98"), []byte{33})
	f.Fuzz(func(t *testing.T, b []byte, cuts []byte) {
		var v utf8Validator
		ok := true
		i := 0
		for _, c := range cuts {
			j := min(i+int(c), len(b))
			if !v.feed(b[i:j]) {
				ok = false
			}
			i = j
		}
		if !v.feed(b[i:]) {
			ok = false
		}
		want := utf8.Valid(b)
		if v.complete() != want {
			t.Fatalf("%q: complete %v, want %v", b, v.complete(), want)
		}
		if ok != (validPrefixLen(b) == len(b)) {
			t.Fatalf("%q: feeds ok %v, valid prefix %d of %d", b, ok, validPrefixLen(b), len(b))
		}
		// Byte by byte, the failure comes exactly where the prefix
		// stops being valid.
		v.reset()
		failed := len(b)
		for k := range b {
			if !v.feed(b[k : k+1]) {
				failed = k
				break
			}
		}
		if p := validPrefixLen(b); failed != p {
			t.Fatalf("%q: failed at %d, valid prefix %d", b, failed, p)
		}
	})
}

// FuzzMask compares maskBytes and maskCopy with the byte loop.
func FuzzMask(f *testing.F) {
	f.Add([]byte("some payload that is longer than thirty-two bytes"), uint32(0x37fa213d), uint8(1), uint8(3))
	f.Add([]byte{}, uint32(0), uint8(0), uint8(0))
	f.Add([]byte("1234567"), uint32(0xdeadbeef), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, k uint32, pos, off uint8) {
		var key [4]byte
		binary.BigEndian.PutUint32(key[:], k)
		p := int(pos & 3)
		o := int(off & 7)
		want := bytes.Clone(b)
		wantPos := naiveMask(key, p, want)

		got := append(make([]byte, o), b...)[o:]
		if q := maskBytes(key, p, got); q != wantPos || !bytes.Equal(got, want) {
			t.Fatalf("maskBytes: pos %d want %d, equal %v", q, wantPos, bytes.Equal(got, want))
		}
		dst := make([]byte, len(b)+o)[o:]
		if q := maskCopy(dst, b, key, p); q != wantPos || !bytes.Equal(dst, want) {
			t.Fatalf("maskCopy: pos %d want %d, equal %v", q, wantPos, bytes.Equal(dst, want))
		}
	})
}
