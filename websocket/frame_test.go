package websocket

import (
	"bytes"
	"errors"
	"testing"
)

// headerLengths are the boundaries of the three length encodings and
// some values around and beyond them.
var headerLengths = []int64{0, 1, 125, 126, 127, 65535, 65536, 1<<32 - 1, 1 << 32, 1 << 62, 1<<63 - 1}

// wantHeaderLen is the encoded size of a header with the given length.
func wantHeaderLen(length int64, masked bool) int {
	n := 2
	switch {
	case length > 0xFFFF:
		n += 8
	case length > 125:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

func TestHeaderRoundTrip(t *testing.T) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	for _, length := range headerLengths {
		if int64(int(length)) != length {
			continue // 32-bit int
		}
		for _, masked := range []bool{false, true} {
			for _, fin := range []bool{false, true} {
				for _, rsv := range []byte{0, 0x40, 0x20, 0x10, 0x70} {
					for _, op := range []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong, 0x3, 0xF} {
						b := appendHeader([]byte("xy"), fin, rsv, op, int(length), masked, key)
						if string(b[:2]) != "xy" {
							t.Fatal("appendHeader lost dst")
						}
						b = b[2:]
						if len(b) != wantHeaderLen(length, masked) {
							t.Fatalf("length %d masked %v: header is %d bytes, want %d", length, masked, len(b), wantHeaderLen(length, masked))
						}
						var buf [maxHeaderLen]byte
						if m := putHeader(buf[:], fin, rsv, op, int(length), masked, key); !bytes.Equal(buf[:m], b) {
							t.Fatalf("putHeader %x, appendHeader %x", buf[:m], b)
						}
						// Trailing payload bytes must not be taken.
						h, n, err := parseHeader(append(bytes.Clone(b), 1, 2, 3))
						if err != nil || n != len(b) {
							t.Fatalf("length %d: parse n=%d err=%v, want n=%d", length, n, err, len(b))
						}
						want := header{fin: fin, rsv: rsv, op: op, masked: masked, length: length}
						if masked {
							want.key = key
						}
						if h != want {
							t.Fatalf("parsed %+v, want %+v", h, want)
						}
						// Every prefix: incomplete, no error.
						for i := 0; i < len(b); i++ {
							if h, n, err := parseHeader(b[:i]); n != 0 || err != nil || h != (header{}) {
								t.Fatalf("length %d masked %v prefix %d: n=%d err=%v h=%+v", length, masked, i, n, err, h)
							}
						}
					}
				}
			}
		}
	}
}

func TestHeaderKnownBytes(t *testing.T) {
	// RFC 6455 §5.7 examples.
	for _, c := range []struct {
		b    []byte
		want header
	}{
		{[]byte{0x81, 0x05}, header{fin: true, op: OpText, length: 5}},
		{[]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, header{fin: true, op: OpText, masked: true, key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, length: 5}},
		{[]byte{0x01, 0x03}, header{op: OpText, length: 3}},
		{[]byte{0x80, 0x02}, header{fin: true, op: OpContinuation, length: 2}},
		{[]byte{0x89, 0x05}, header{fin: true, op: OpPing, length: 5}},
		{[]byte{0x82, 0x7E, 0x01, 0x00}, header{fin: true, op: OpBinary, length: 256}},
		{[]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, header{fin: true, op: OpBinary, length: 65536}},
		{[]byte{0xC1, 0x00}, header{fin: true, rsv: 0x40, op: OpText}},
		// Non-minimal encodings parse (the caller may refuse them).
		{[]byte{0x82, 0x7E, 0x00, 0x05}, header{fin: true, op: OpBinary, length: 5}},
		{[]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5}, header{fin: true, op: OpBinary, length: 5}},
	} {
		h, n, err := parseHeader(c.b)
		if err != nil || n != len(c.b) || h != c.want {
			t.Errorf("%x: %+v n=%d err=%v, want %+v", c.b, h, n, err, c.want)
		}
	}
}

func TestHeaderLengthMSB(t *testing.T) {
	for _, masked := range []byte{0, 0x80} {
		b := []byte{0x82, masked | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		for i := 0; i <= len(b); i++ {
			_, n, err := parseHeader(b[:i])
			if i < 10 {
				if n != 0 || err != nil {
					t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
				}
				continue
			}
			if n != 0 || !errors.Is(err, ErrProtocol) {
				t.Fatalf("prefix %d: n=%d err=%v, want ErrProtocol", i, n, err)
			}
		}
	}
	b := []byte{0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if _, _, err := parseHeader(b); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err=%v, want ErrProtocol", err)
	}
}

func TestHeaderAllocs(t *testing.T) {
	b := appendHeader(nil, true, 0x40, OpBinary, 70000, true, [4]byte{1, 2, 3, 4})
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(100, func() {
		parseHeader(b)
		var buf [maxHeaderLen]byte
		putHeader(buf[:], true, 0, OpText, 300, true, [4]byte{})
		dst = appendHeader(dst[:0], true, 0, OpText, 300, false, [4]byte{})
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	for _, c := range []struct {
		name   string
		length int
		masked bool
	}{{"small", 100, false}, {"16bit-masked", 1000, true}, {"64bit-masked", 1 << 20, true}} {
		hdr := appendHeader(nil, true, 0, OpBinary, c.length, c.masked, [4]byte{1, 2, 3, 4})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, n, _ := parseHeader(hdr); n == 0 {
					b.Fatal("short")
				}
			}
		})
	}
}

func BenchmarkPutHeader(b *testing.B) {
	b.ReportAllocs()
	var buf [maxHeaderLen]byte
	for b.Loop() {
		putHeader(buf[:], true, 0, OpBinary, 1000, true, [4]byte{1, 2, 3, 4})
	}
}
