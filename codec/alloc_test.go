package codec

import (
	"bytes"
	"testing"
)

// TestDecodeAllocs checks that Decode allocates nothing: not for a complete
// frame, not while waiting for more input, and not for an error, even one
// caused by a header claiming 4 GiB.
func TestDecodeAllocs(t *testing.T) {
	line := Must(NewLine(LineConfig{MaxLength: 8}))
	delim := Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\r\n", "\n"), MaxLength: 8}))
	fixed := Must(NewFixed(FixedConfig{Length: 4}))
	lf := Must(NewLengthField(LengthFieldConfig{InitialBytesToStrip: 4}))

	for _, tc := range []struct {
		name string
		dec  Decoder
		in   string
	}{
		{"line frame", line, "hello\r\nrest"},
		{"line incomplete", line, "hello\r"},
		{"line too long", line, "123456789"},
		{"delimiter frame", delim, "hello\r\nrest"},
		{"delimiter incomplete", delim, "hello\r"},
		{"delimiter too long", delim, "123456789\r"},
		{"fixed frame", fixed, "abcdef"},
		{"fixed incomplete", fixed, "abc"},
		{"length field frame", lf, "\x00\x00\x00\x05hello"},
		{"length field incomplete", lf, "\x00\x00\x00\x05hel"},
		{"length field 4 GiB claim", lf, "\xff\xff\xff\xffx"},
		{"length field corrupt", Must(NewLengthField(LengthFieldConfig{LengthFieldLength: 8})), "\x80\x00\x00\x00\x00\x00\x00\x00"},
	} {
		in := []byte(tc.in)
		if allocs := testing.AllocsPerRun(100, func() { tc.dec.Decode(in) }); allocs != 0 {
			t.Errorf("%s: %v allocations per Decode", tc.name, allocs)
		}
	}
}

// TestEncodeAllocs checks that Encode does not allocate when dst has room.
func TestEncodeAllocs(t *testing.T) {
	frame := []byte("hello")
	for _, tc := range []struct {
		name string
		enc  Encoder
	}{
		{"line", Must(NewLine(LineConfig{CRLF: true}))},
		{"delimiter", Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\r\n", "\n")}))},
		{"fixed", Must(NewFixed(FixedConfig{Length: 5}))},
		{"length field", Must(NewLengthField(LengthFieldConfig{LengthFieldOffset: 3}))},
	} {
		dst := make([]byte, 0, 64)
		var out []byte
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if out, err = tc.enc.Encode(dst[:0], frame); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Encode into a roomy dst", tc.name, allocs)
		}
		if !bytes.Contains(out, frame) || &out[0] != &dst[:1][0] {
			t.Errorf("%s: Encode did not append in place: %q", tc.name, out)
		}
	}
}
