package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// maxPrefixCheck bounds the inputs whose every prefix checkPrefixes tries,
// which costs time quadratic in the input length.
const maxPrefixCheck = 4096

// checkPrefixes decodes in and every prefix of it, checks each result
// against the Decoder contract, and checks that the results do not depend
// on how much input has arrived: prefixes shorter than the frame (or than
// the point where the error shows) are incomplete, longer ones give the
// same frame (or an error of the same kind). It returns the result for in.
func checkPrefixes(t *testing.T, dec Decoder, in []byte, maxFrame int) (frame []byte, n int, err error) {
	t.Helper()
	before := bytes.Clone(in)
	frame, n, err = dec.Decode(in)
	checkResult(t, before, in, frame, n, err, maxFrame)
	if len(in) > maxPrefixCheck {
		return frame, n, err
	}
	failed := false // an earlier prefix already failed
	for k := range len(in) {
		f, m, e := dec.Decode(in[:k])
		checkResult(t, before[:k], in[:k], f, m, e, maxFrame)
		switch {
		case e != nil:
			if err == nil || errors.Is(e, ErrFrameTooLong) != errors.Is(err, ErrFrameTooLong) {
				t.Fatalf("prefix of %d bytes: error %v; whole input: %q, %d, %v", k, e, frame, n, err)
			}
			failed = true
		case failed:
			t.Fatalf("prefix of %d bytes is fine after a shorter one failed", k)
		case m == 0:
			if n > 0 && k >= n {
				t.Fatalf("prefix of %d bytes incomplete, but holds the %d-byte frame", k, n)
			}
		case n != m || !bytes.Equal(f, frame):
			t.Fatalf("prefix of %d bytes gives %q, %d; whole input: %q, %d, %v", k, f, m, frame, n, err)
		}
	}
	return frame, n, err
}

func FuzzLine(f *testing.F) {
	f.Add([]byte("\x10abc\ndef\r\n\r\nx"))
	f.Add([]byte("\x03abc\r\nabcd\n"))
	f.Add([]byte("\x83abc\r"))
	f.Add([]byte("\x02\n\r\r\n\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		limit := 1 + int(data[0]%64)
		in := data[1:]
		c := Must(NewLine(LineConfig{MaxLength: limit, CRLF: data[0]&0x80 != 0}))
		frame, n, err := checkPrefixes(t, c, in, limit)
		decodeChunks(t, c, limit, in)

		// Line is Delimiter{"\n", "\r\n"} with a faster search.
		d := Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\n", "\r\n"), MaxLength: limit}))
		df, dn, derr := d.Decode(in)
		if dn != n || !bytes.Equal(df, frame) || (derr == nil) != (err == nil) {
			t.Fatalf("Line gives %q, %d, %v; Delimiter %q, %d, %v", frame, n, err, df, dn, derr)
		}

		// A line that Encode accepts comes back unchanged.
		wire, err := c.Encode(nil, in)
		if err != nil {
			if bytes.IndexByte(in, '\n') < 0 && !bytes.HasSuffix(in, []byte("\r")) {
				t.Fatalf("Encode(%q): %v", in, err)
			}
			return
		}
		if len(in) <= limit {
			if got, m, err := c.Decode(wire); err != nil || m != len(wire) || !bytes.Equal(got, in) {
				t.Fatalf("Decode(Encode(%q)) = %q, %d, %v", in, got, m, err)
			}
		}
	})
}

// delimAlphabet holds the bytes that fuzzed delimiters are made of.
const delimAlphabet = "ab\n\r"

// delimiterConfig derives a config from the first bytes of data and returns
// it with the rest of data; ok is false if data is too short.
func delimiterConfig(data []byte) (cfg DelimiterConfig, rest []byte, ok bool) {
	if len(data) < 2 {
		return cfg, nil, false
	}
	count := 1 + int(data[0]%3)
	cfg.KeepDelimiter = data[0]&0x80 != 0
	cfg.MaxLength = 1 + int(data[1]%32)
	data = data[2:]
	for range count {
		if len(data) == 0 {
			return cfg, nil, false
		}
		size := 1 + int(data[0]%4)
		data = data[1:]
		if len(data) < size {
			return cfg, nil, false
		}
		d := make([]byte, size)
		for i := range d {
			d[i] = delimAlphabet[data[i]%4]
		}
		cfg.Delimiters = append(cfg.Delimiters, d)
		data = data[size:]
	}
	return cfg, data, true
}

// delimiterSeed is the inverse of delimiterConfig: it encodes a config
// whose delimiters use only the bytes of delimAlphabet, followed by in.
func delimiterSeed(keep bool, maxLength int, in string, ds ...string) []byte {
	b0 := byte(len(ds) - 1)
	if keep {
		b0 |= 0x80
	}
	data := []byte{b0, byte(maxLength - 1)}
	for _, d := range ds {
		data = append(data, byte(len(d)-1))
		for i := range len(d) {
			data = append(data, byte(strings.IndexByte(delimAlphabet, d[i])))
		}
	}
	return append(data, in...)
}

// naiveDelimit finds the delimiter occurrence that ends first in in, the
// longest on a tie, by trying every end position: end < 0 if none.
func naiveDelimit(ds [][]byte, in []byte) (end, dlen int) {
	for e := 1; e <= len(in); e++ {
		dlen = 0
		for _, d := range ds {
			if len(d) > dlen && bytes.HasSuffix(in[:e], d) {
				dlen = len(d)
			}
		}
		if dlen > 0 {
			return e, dlen
		}
	}
	return -1, 0
}

func FuzzDelimiter(f *testing.F) {
	f.Add(delimiterSeed(false, 8, "abc\r\ndef\n\r\n", "\n", "\r\n"))
	f.Add(delimiterSeed(true, 4, "abaabbaab", "ab", "a"))
	f.Add(delimiterSeed(false, 4, "xxxababxxxxxab", "abab"))
	f.Add(delimiterSeed(false, 3, "xyzab\r\n", "ab\r\n", "\r"))
	f.Add(delimiterSeed(true, 5, "xyz\n\r\r\naa\n", "\r", "\r\n", "a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, in, ok := delimiterConfig(data)
		if !ok {
			return
		}
		c, err := NewDelimiter(cfg)
		if err != nil {
			t.Fatalf("NewDelimiter(%q): %v", cfg.Delimiters, err)
		}
		longest := 0
		for _, d := range cfg.Delimiters {
			longest = max(longest, len(d))
		}
		maxFrame := cfg.MaxLength
		if cfg.KeepDelimiter {
			maxFrame += longest
		}
		frame, n, err := checkPrefixes(t, c, in, maxFrame)
		decodeChunks(t, c, maxFrame, in)

		// Compare with the naive search.
		end, dlen := naiveDelimit(cfg.Delimiters, in)
		switch {
		case end >= 0 && end-dlen > cfg.MaxLength:
			if !errors.Is(err, ErrFrameTooLong) {
				t.Fatalf("first delimiter ends a %d-byte frame; got %q, %d, %v", end-dlen, frame, n, err)
			}
		case end >= 0:
			want := in[:end-dlen]
			if cfg.KeepDelimiter {
				want = in[:end]
			}
			if err != nil || n != end || !bytes.Equal(frame, want) {
				t.Fatalf("got %q, %d, %v; want %q, %d", frame, n, err, want, end)
			}
		case err != nil && len(in) <= cfg.MaxLength:
			t.Fatalf("error %v with only %d bytes", err, len(in))
		case err == nil && len(in) >= cfg.MaxLength+longest:
			t.Fatalf("no error with %d bytes and no delimiter", len(in))
		case err != nil && !errors.Is(err, ErrFrameTooLong):
			t.Fatalf("error %v, want ErrFrameTooLong", err)
		}

		// A frame that Encode accepts comes back unchanged.
		wire, err := c.Encode(nil, in)
		if err != nil {
			return
		}
		if len(in) <= cfg.MaxLength {
			want := wire
			if !cfg.KeepDelimiter {
				want = in
			}
			if got, m, err := c.Decode(wire); err != nil || m != len(wire) || !bytes.Equal(got, want) {
				t.Fatalf("Decode(Encode(%q)) = %q, %d, %v", in, got, m, err)
			}
		}
	})
}

func FuzzFixed(f *testing.F) {
	f.Add([]byte("\x03abcdefg"))
	f.Add([]byte("\x00"))
	f.Add([]byte("\x0f0123456789abcdef"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		size := 1 + int(data[0]%16)
		in := data[1:]
		c := Must(NewFixed(FixedConfig{Length: size}))
		frame, n, err := checkPrefixes(t, c, in, size)
		decodeChunks(t, c, size, in)
		if err != nil || (len(in) >= size) != (n == size) || (n > 0 && !bytes.Equal(frame, in[:size])) {
			t.Fatalf("Decode(%q) with size %d = %q, %d, %v", in, size, frame, n, err)
		}
		if len(in) >= size {
			if wire, err := c.Encode(nil, in[:size]); err != nil || !bytes.Equal(wire, in[:size]) {
				t.Fatalf("Encode(%q) = %q, %v", in[:size], wire, err)
			}
		}
	})
}

// lengthFieldConfig derives a config, possibly invalid, from the first six
// bytes of data and returns it with the rest of data.
func lengthFieldConfig(data []byte) (cfg LengthFieldConfig, rest []byte, ok bool) {
	if len(data) < 6 {
		return cfg, nil, false
	}
	cfg.LengthFieldOffset = int(data[0] % 8)
	cfg.LengthFieldLength = []int{0, 1, 2, 3, 4, 8, 5}[data[1]%7]
	cfg.LengthAdjustment = int(int8(data[2]))
	cfg.InitialBytesToStrip = int(data[3] % 24)
	cfg.LengthIncludesHeader = data[4]&1 != 0
	if data[4]&2 != 0 {
		cfg.ByteOrder = binary.LittleEndian
	}
	if data[4]&4 == 0 {
		cfg.MaxFrameLength = int(data[5])
	}
	if data[4]&8 != 0 { // strip the header, so that round trips work
		cfg.InitialBytesToStrip = cfg.LengthFieldOffset + cfg.LengthFieldLength
		if cfg.LengthFieldLength == 0 {
			cfg.InitialBytesToStrip += 4
		}
	}
	return cfg, data[6:], true
}

func FuzzLengthField(f *testing.F) {
	f.Add([]byte("\x00\x02\x00\x00\x08\x40" + "\x00\x03abc\x00\x00"))
	f.Add([]byte("\x01\x02\xfd\x03\x01\x40" + "\xab\x00\x0e\xcdping-pong!"))
	f.Add([]byte("\x00\x00\x00\x00\x04\x00" + "\xff\xff\xff\xffx"))
	f.Add([]byte("\x00\x05\x00\x00\x0c\x00" + "\x80\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x02\x03\x02\x00\x0a\xff" + "\x00\x00\x00\x00\x00\x02xyabc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, in, ok := lengthFieldConfig(data)
		if !ok {
			return
		}
		c, err := NewLengthField(cfg)
		if err != nil {
			return // an invalid config
		}
		frame, n, err := checkPrefixes(t, c, in, c.max)
		decodeChunks(t, c, c.max, in)

		// Compare with the arithmetic done in big integers.
		if len(in) < c.header {
			if n != 0 || err != nil {
				t.Fatalf("%d bytes of a %d-byte header: %q, %d, %v", len(in), c.header, frame, n, err)
			}
		} else {
			var v big.Int
			field := in[c.offset:c.header]
			for i := range field {
				b := field[i]
				if c.little {
					b = field[len(field)-1-i]
				}
				v.Lsh(&v, 8).Or(&v, big.NewInt(int64(b)))
			}
			adjust := int64(cfg.LengthAdjustment)
			if cfg.LengthIncludesHeader {
				adjust -= int64(c.header)
			}
			total := new(big.Int).Add(&v, big.NewInt(int64(c.header)+adjust))
			var want error
			switch {
			case v.Cmp(big.NewInt(math.MaxInt64)) > 0, total.Cmp(big.NewInt(math.MaxInt64)) > 0,
				total.Cmp(big.NewInt(int64(c.header))) < 0:
				want = ErrCorruptFrame
			case total.Cmp(big.NewInt(int64(c.max))) > 0:
				want = ErrFrameTooLong
			case total.Cmp(big.NewInt(int64(c.strip))) < 0:
				want = ErrCorruptFrame
			}
			switch {
			case want != nil:
				if !errors.Is(err, want) {
					t.Fatalf("value %v, total %v: got %q, %d, %v; want %v", &v, total, frame, n, err, want)
				}
			case int64(len(in)) < total.Int64():
				if n != 0 || err != nil {
					t.Fatalf("%d of %v bytes: got %q, %d, %v", len(in), total, frame, n, err)
				}
			case err != nil || int64(n) != total.Int64() || !bytes.Equal(frame, in[c.strip:n]):
				t.Fatalf("total %v: got %q, %d, %v", total, frame, n, err)
			}
		}

		// With the header stripped, what Encode accepts comes back unchanged.
		if c.strip != c.header {
			return
		}
		wire, err := c.Encode(nil, in)
		if err != nil {
			if !errors.Is(err, ErrFrameTooLong) && !errors.Is(err, ErrCorruptFrame) {
				t.Fatalf("Encode: %v", err)
			}
			return
		}
		if len(wire) <= c.max {
			if got, m, err := c.Decode(wire); err != nil || m != len(wire) || !bytes.Equal(got, in) {
				t.Fatalf("Decode(Encode(%x)) = %x, %d, %v", in, got, m, err)
			}
		}
	})
}
