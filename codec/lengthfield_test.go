package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

const payload = "ping-pong!" // 10 bytes

// TestLengthFieldLayouts decodes the layouts that Netty documents for
// LengthFieldBasedFrameDecoder, with our own bytes, and checks that Encode
// produces them (with zeros before the length field).
func TestLengthFieldLayouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   LengthFieldConfig
		wire  string
		frame string
	}{
		{"2-byte length, no strip", LengthFieldConfig{LengthFieldLength: 2},
			"\x00\x0a" + payload, "\x00\x0a" + payload},
		{"2-byte length, strip header", LengthFieldConfig{LengthFieldLength: 2, InitialBytesToStrip: 2},
			"\x00\x0a" + payload, payload},
		{"length includes header, by adjustment", LengthFieldConfig{LengthFieldLength: 2, LengthAdjustment: -2},
			"\x00\x0c" + payload, "\x00\x0c" + payload},
		{"length includes header, by flag", LengthFieldConfig{LengthFieldLength: 2, LengthIncludesHeader: true},
			"\x00\x0c" + payload, "\x00\x0c" + payload},
		{"header before the length", LengthFieldConfig{LengthFieldOffset: 2, LengthFieldLength: 3},
			"\xab\xcd\x00\x00\x0a" + payload, "\xab\xcd\x00\x00\x0a" + payload},
		{"header after the length", LengthFieldConfig{LengthFieldLength: 3, LengthAdjustment: 2},
			"\x00\x00\x0a\xab\xcd" + payload, "\x00\x00\x0a\xab\xcd" + payload},
		{"headers around the length, strip to the second", LengthFieldConfig{
			LengthFieldOffset: 1, LengthFieldLength: 2, LengthAdjustment: 1, InitialBytesToStrip: 3},
			"\xab\x00\x0a\xcd" + payload, "\xcd" + payload},
		{"same, length counts the whole frame", LengthFieldConfig{
			LengthFieldOffset: 1, LengthFieldLength: 2, LengthAdjustment: -3, InitialBytesToStrip: 3},
			"\xab\x00\x0e\xcd" + payload, "\xcd" + payload},
		{"same, by flag", LengthFieldConfig{
			LengthFieldOffset: 1, LengthFieldLength: 2, LengthIncludesHeader: true, InitialBytesToStrip: 3},
			"\xab\x00\x0e\xcd" + payload, "\xcd" + payload},
		{"defaults: 4-byte big-endian", LengthFieldConfig{InitialBytesToStrip: 4},
			"\x00\x00\x00\x0a" + payload, payload},
		{"1-byte length", LengthFieldConfig{LengthFieldLength: 1, InitialBytesToStrip: 1},
			"\x0a" + payload, payload},
		{"8-byte length", LengthFieldConfig{LengthFieldLength: 8, InitialBytesToStrip: 8},
			"\x00\x00\x00\x00\x00\x00\x00\x0a" + payload, payload},
		{"little-endian 2", LengthFieldConfig{LengthFieldLength: 2, ByteOrder: binary.LittleEndian, InitialBytesToStrip: 2},
			"\x0a\x00" + payload, payload},
		{"little-endian 3", LengthFieldConfig{LengthFieldLength: 3, ByteOrder: binary.LittleEndian, InitialBytesToStrip: 3},
			"\x0a\x00\x00" + payload, payload},
		{"little-endian 4", LengthFieldConfig{ByteOrder: binary.LittleEndian, InitialBytesToStrip: 4},
			"\x0a\x00\x00\x00" + payload, payload},
		{"little-endian 8", LengthFieldConfig{LengthFieldLength: 8, ByteOrder: binary.LittleEndian, InitialBytesToStrip: 8},
			"\x0a\x00\x00\x00\x00\x00\x00\x00" + payload, payload},
		{"empty frame", LengthFieldConfig{LengthFieldLength: 2, InitialBytesToStrip: 2},
			"\x00\x00", ""},
		{"strip everything", LengthFieldConfig{LengthFieldLength: 1, InitialBytesToStrip: 3},
			"\x02ab", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewLengthField(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			wire := []byte(tc.wire)
			// Every proper prefix is incomplete; the wire form, even with
			// more bytes after it, is one frame.
			var cases []decodeCase
			for k := range len(wire) {
				cases = append(cases, decodeCase{in: tc.wire[:k], comment: "prefix"})
			}
			cases = append(cases,
				decodeCase{in: tc.wire, frame: tc.frame, n: len(wire)},
				decodeCase{in: tc.wire + "\x00\x00\x00\x00\x00\x00\x00\x00\x01", frame: tc.frame, n: len(wire)})
			runDecodeCases(t, c, len(wire), cases)

			header := c.header
			want := bytes.Clone(wire)
			clear(want[:c.offset])
			got, err := c.Encode([]byte("pre"), wire[header:])
			if err != nil || string(got) != "pre"+string(want) {
				t.Errorf("Encode(%q) = %q, %v; want %q", wire[header:], got, err, "pre"+string(want))
			}
		})
	}
}

func TestLengthFieldErrors(t *testing.T) {
	cfg := func(c LengthFieldConfig) *LengthField { return Must(NewLengthField(c)) }
	for _, tc := range []struct {
		name string
		c    *LengthField
		in   string
		err  error
	}{
		{"4 GiB claim", cfg(LengthFieldConfig{}), "\xff\xff\xff\xffx", ErrFrameTooLong},
		{"one over default limit", cfg(LengthFieldConfig{}), "\x00\x7f\xff\xfd", ErrFrameTooLong},
		{"one over small limit", cfg(LengthFieldConfig{LengthFieldLength: 2, MaxFrameLength: 10}), "\x00\x09", ErrFrameTooLong},
		{"limit counts the header", cfg(LengthFieldConfig{LengthFieldLength: 2, InitialBytesToStrip: 2, MaxFrameLength: 10}),
			"\x00\x09", ErrFrameTooLong},
		{"8-byte top bit", cfg(LengthFieldConfig{LengthFieldLength: 8}), "\x80\x00\x00\x00\x00\x00\x00\x00", ErrCorruptFrame},
		{"8-byte all ones", cfg(LengthFieldConfig{LengthFieldLength: 8}), "\xff\xff\xff\xff\xff\xff\xff\xff", ErrCorruptFrame},
		{"total overflows", cfg(LengthFieldConfig{LengthFieldLength: 8}), "\x7f\xff\xff\xff\xff\xff\xff\xff", ErrCorruptFrame},
		{"huge but representable", cfg(LengthFieldConfig{LengthFieldLength: 8}), "\x7f\xff\xff\xff\xff\xff\xff\xf0", ErrFrameTooLong},
		{"shorter than header", cfg(LengthFieldConfig{LengthFieldLength: 2, LengthIncludesHeader: true}), "\x00\x01", ErrCorruptFrame},
		{"negative after adjustment", cfg(LengthFieldConfig{LengthFieldLength: 1, LengthAdjustment: -5}), "\x03abc", ErrCorruptFrame},
		{"strip beyond frame", cfg(LengthFieldConfig{LengthFieldLength: 1, InitialBytesToStrip: 4}), "\x02ab", ErrCorruptFrame},
	} {
		in := []byte(tc.in)
		frame, n, err := tc.c.Decode(in)
		checkResult(t, []byte(tc.in), in, frame, n, err, math.MaxInt)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: Decode(%x) = %q, %d, %v; want %v", tc.name, tc.in, frame, n, err, tc.err)
		}
	}

	// At the limit exactly, the frame is accepted.
	c := cfg(LengthFieldConfig{LengthFieldLength: 2, MaxFrameLength: 10})
	if f, n, err := c.Decode([]byte("\x00\x08abcdefgh")); err != nil || n != 10 || len(f) != 10 {
		t.Errorf("frame at the limit: %q, %d, %v", f, n, err)
	}
}

type oddOrder struct{ binary.ByteOrder }

func (oddOrder) Uint16([]byte) uint16 { return 0 }

func TestLengthFieldConfig(t *testing.T) {
	for _, cfg := range []LengthFieldConfig{
		{LengthFieldLength: 5},
		{LengthFieldLength: -1},
		{LengthFieldLength: 16},
		{LengthFieldOffset: -1},
		{InitialBytesToStrip: -1},
		{MaxFrameLength: -1},
		{MaxFrameLength: 3},                        // shorter than the 4-byte header
		{LengthFieldOffset: 7, MaxFrameLength: 10}, // 11-byte header
		{LengthFieldOffset: math.MaxInt},
		{InitialBytesToStrip: 11, MaxFrameLength: 10},
		{LengthAdjustment: 7, MaxFrameLength: 10}, // every frame at least 11 bytes
		{LengthAdjustment: math.MaxInt},
		{LengthAdjustment: math.MinInt, LengthIncludesHeader: true},
		{ByteOrder: oddOrder{binary.BigEndian}},
	} {
		if _, err := NewLengthField(cfg); err == nil {
			t.Errorf("NewLengthField(%+v) accepted an invalid config", cfg)
		}
	}
	for _, cfg := range []LengthFieldConfig{
		{},
		{ByteOrder: binary.NativeEndian},
		{LengthAdjustment: 6, MaxFrameLength: 10},
		{LengthAdjustment: math.MinInt},
		{InitialBytesToStrip: 10, MaxFrameLength: 10},
		{MaxFrameLength: math.MaxInt},
	} {
		if _, err := NewLengthField(cfg); err != nil {
			t.Errorf("NewLengthField(%+v): %v", cfg, err)
		}
	}
}

func TestLengthFieldEncodeErrors(t *testing.T) {
	one := Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 1}))
	if out, err := one.Encode(nil, make([]byte, 255)); err != nil || len(out) != 256 || out[0] != 255 {
		t.Errorf("255-byte frame: len %d, %v", len(out), err)
	}
	if out, err := one.Encode([]byte("pre"), make([]byte, 256)); !errors.Is(err, ErrFrameTooLong) || string(out) != "pre" {
		t.Errorf("256-byte frame in a 1-byte field: %q, %v", out, err)
	}

	// The field counts the header: 255 - 1 bytes of payload at most.
	incl := Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 1, LengthIncludesHeader: true}))
	if out, err := incl.Encode(nil, make([]byte, 254)); err != nil || out[0] != 255 {
		t.Errorf("254-byte frame, length includes header: %v", err)
	}
	if _, err := incl.Encode(nil, make([]byte, 255)); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("255-byte frame, length includes header: %v", err)
	}

	// A positive adjustment says the frame has at least that many bytes.
	adj := Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 2, LengthAdjustment: 2}))
	if _, err := adj.Encode(nil, []byte("x")); !errors.Is(err, ErrCorruptFrame) {
		t.Errorf("frame shorter than adjustment: %v", err)
	}
	if out, err := adj.Encode(nil, []byte("xy")); err != nil || string(out) != "\x00\x00xy" {
		t.Errorf("frame as long as adjustment: %q, %v", out, err)
	}

	if math.MaxInt == math.MaxInt64 {
		// The value would be len(frame) - MinInt64: overflow.
		neg := Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 8, LengthAdjustment: math.MinInt}))
		if _, err := neg.Encode(nil, []byte("x")); !errors.Is(err, ErrFrameTooLong) {
			t.Errorf("value overflow: %v", err)
		}
	}

	// Frames beyond MaxFrameLength may be sent.
	small := Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 2, MaxFrameLength: 4}))
	if out, err := small.Encode(nil, []byte("abcdef")); err != nil || string(out) != "\x00\x06abcdef" {
		t.Errorf("over-limit Encode = %q, %v", out, err)
	}
}

// randomStripConfig returns a random config that strips the whole header,
// so that Decode(Encode(frame)) == frame.
func randomStripConfig(rng *rand.Rand) LengthFieldConfig {
	cfg := LengthFieldConfig{
		LengthFieldOffset:    rng.IntN(4),
		LengthFieldLength:    []int{1, 2, 3, 4, 8}[rng.IntN(5)],
		LengthAdjustment:     rng.IntN(17) - 8,
		LengthIncludesHeader: rng.IntN(2) == 0,
	}
	if rng.IntN(2) == 0 {
		cfg.ByteOrder = binary.LittleEndian
	}
	cfg.InitialBytesToStrip = cfg.LengthFieldOffset + cfg.LengthFieldLength
	return cfg
}

func TestLengthFieldRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 300 {
		cfg := randomStripConfig(rng)
		c := Must(NewLengthField(cfg))
		for _, f := range randomFrames(rng, 20, 300, "\x00\x01\xffab") {
			wire, err := c.Encode(nil, f)
			if err != nil {
				v := int64(len(f)) - c.adjust
				if (v < 0 && errors.Is(err, ErrCorruptFrame)) || (uint64(v) > c.fieldMax && errors.Is(err, ErrFrameTooLong)) {
					continue
				}
				t.Fatalf("%+v: Encode(%d bytes): %v", cfg, len(f), err)
			}
			got, n, err := c.Decode(wire)
			if err != nil || n != len(wire) || !bytes.Equal(got, f) {
				t.Fatalf("%+v: Decode(Encode(%x)) = %x, %d, %v", cfg, f, got, n, err)
			}
		}
	}
}

func TestLengthFieldStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for range 6 {
		cfg := randomStripConfig(rng)
		cfg.LengthAdjustment = min(cfg.LengthAdjustment, 0) // every frame length is encodable
		c := Must(NewLengthField(cfg))
		frames := randomFrames(rng, 25, 12, "\x00\xffz")
		checkStream(t, c, DefaultMaxFrameLength, frames, nil)
	}
}
