package codec

import (
	"bytes"
	"testing"
)

// benchDecode decodes a buffer of back-to-back small frames produced by c,
// restarting from the top when it runs out, and reports per-frame cost.
func benchDecode(b *testing.B, c Codec, frame []byte) {
	var stream []byte
	for range 64 {
		var err error
		if stream, err = c.Encode(stream, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(stream) / 64))
	b.ReportAllocs()
	in := stream
	for b.Loop() {
		if len(in) == 0 {
			in = stream
		}
		_, n, err := c.Decode(in)
		if err != nil || n == 0 {
			b.Fatalf("Decode: n %d, err %v", n, err)
		}
		in = in[n:]
	}
}

func BenchmarkLineDecode(b *testing.B) {
	benchDecode(b, Must(NewLine(LineConfig{CRLF: true})), []byte("GET /index.html HTTP/1.1"))
}

func BenchmarkDelimiterDecode(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		c := Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\x00")}))
		benchDecode(b, c, []byte("GET /index.html HTTP/1.1"))
	})
	b.Run("two", func(b *testing.B) {
		c := Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\r\n", "\n")}))
		benchDecode(b, c, []byte("GET /index.html HTTP/1.1"))
	})
}

func BenchmarkFixedDecode(b *testing.B) {
	benchDecode(b, Must(NewFixed(FixedConfig{Length: 32})), bytes.Repeat([]byte{'x'}, 32))
}

func BenchmarkLengthFieldDecode(b *testing.B) {
	c := Must(NewLengthField(LengthFieldConfig{InitialBytesToStrip: 4}))
	benchDecode(b, c, []byte("GET /index.html HTTP/1.1"))
}

func BenchmarkEncode(b *testing.B) {
	frame := []byte("GET /index.html HTTP/1.1")
	for _, bc := range []struct {
		name string
		c    Codec
	}{
		{"Line", Must(NewLine(LineConfig{}))},
		{"Delimiter", Must(NewDelimiter(DelimiterConfig{Delimiters: delims("\r\n", "\n")}))},
		{"Fixed", Must(NewFixed(FixedConfig{Length: len(frame)}))},
		{"LengthField", Must(NewLengthField(LengthFieldConfig{}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 256)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.c.Encode(dst, frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
