package codec_test

import (
	"errors"
	"fmt"

	"github.com/mill-io/mill/codec"
)

// Decoding a stream in a loop, as a connection's event loop does: append
// what each read brought, take every complete frame, keep the rest.
func Example() {
	lines := codec.Must(codec.NewLine(codec.LineConfig{}))

	var buf []byte // the connection's unread input
	for _, read := range []string{"HELO exa", "mple.org\r\nMAIL FROM:<a@", "example.org>\r\nQUIT\n"} {
		buf = append(buf, read...)
		for {
			frame, n, err := lines.Decode(buf)
			if err != nil {
				fmt.Println("close the connection:", err)
				return
			}
			if n == 0 {
				break // incomplete: wait for the next read
			}
			fmt.Printf("%q\n", frame) // frame aliases buf: use it (or copy it) now
			buf = buf[n:]
		}
	}
	fmt.Println("unread:", len(buf))
	// Output:
	// "HELO example.org"
	// "MAIL FROM:<a@example.org>"
	// "QUIT"
	// unread: 0
}

func ExampleLengthField() {
	// A 2-byte big-endian length that counts the payload; Decode strips it.
	c, err := codec.NewLengthField(codec.LengthFieldConfig{
		LengthFieldLength:   2,
		InitialBytesToStrip: 2,
		MaxFrameLength:      1 << 10,
	})
	if err != nil {
		panic(err)
	}
	wire, _ := c.Encode(nil, []byte("hello"))
	wire, _ = c.Encode(wire, []byte("world!"))
	fmt.Printf("% x\n", wire)

	for len(wire) > 0 {
		frame, n, err := c.Decode(wire)
		if err != nil || n == 0 {
			break
		}
		fmt.Printf("%s\n", frame)
		wire = wire[n:]
	}

	// A header claiming more than the limit fails at once.
	_, _, err = c.Decode([]byte{0xff, 0xff, 'x'})
	fmt.Println(err, errors.Is(err, codec.ErrFrameTooLong))
	// Output:
	// 00 05 68 65 6c 6c 6f 00 06 77 6f 72 6c 64 21
	// hello
	// world!
	// codec: frame too long: length field claims a frame longer than 1024 bytes true
}

func ExampleDelimiter() {
	c := codec.Must(codec.NewDelimiter(codec.DelimiterConfig{
		Delimiters: [][]byte{[]byte("\r\n"), []byte("\n")}, // Encode uses "\r\n"
		MaxLength:  80,
	}))
	in := []byte("a\nb\r\nc")
	for {
		frame, n, _ := c.Decode(in)
		if n == 0 {
			break
		}
		fmt.Printf("%q ", frame)
		in = in[n:]
	}
	out, _ := c.Encode(nil, []byte("d"))
	fmt.Printf("rest %q, encoded %q\n", in, out)
	// Output: "a" "b" rest "c", encoded "d\r\n"
}

// netstring is a custom codec for netstrings: "5:hello," holds "hello".
// It keeps no state, so one value can serve every connection.
type netstring struct{ max int }

// Decode follows the codec.Decoder contract: n == 0 while incomplete, frames
// alias in, errors wrap the package's sentinels, and the claimed length is
// checked against the limit before waiting for the payload.
func (c netstring) Decode(in []byte) ([]byte, int, error) {
	size, i := 0, 0
	for ; i < len(in) && in[i] != ':'; i++ {
		if in[i] < '0' || in[i] > '9' || (i == 1 && in[0] == '0') {
			return nil, 0, fmt.Errorf("%w: bad length at byte %d", codec.ErrCorruptFrame, i)
		}
		if size = size*10 + int(in[i]-'0'); size > c.max {
			return nil, 0, fmt.Errorf("%w: more than %d bytes", codec.ErrFrameTooLong, c.max)
		}
	}
	switch {
	case i == len(in):
		return nil, 0, nil // no ':' yet; the limit bounds the digits
	case i == 0:
		return nil, 0, fmt.Errorf("%w: no length", codec.ErrCorruptFrame)
	}
	end := i + 1 + size // index of the ','
	if len(in) <= end {
		return nil, 0, nil
	}
	if in[end] != ',' {
		return nil, 0, fmt.Errorf("%w: missing ','", codec.ErrCorruptFrame)
	}
	return in[i+1 : end : end], end + 1, nil
}

func (c netstring) Encode(dst, frame []byte) ([]byte, error) {
	dst = fmt.Appendf(dst, "%d:", len(frame))
	return append(append(dst, frame...), ','), nil
}

// A custom codec implements Decode and Encode; a Factory hands it to each
// connection.
func Example_customCodec() {
	var factory codec.Factory = codec.Shared(netstring{max: 100})
	c := factory()

	wire, _ := c.Encode(nil, []byte("hello"))
	wire, _ = c.Encode(wire, nil)
	fmt.Printf("%s\n", wire)

	for len(wire) > 0 {
		frame, n, err := c.Decode(wire)
		if err != nil || n == 0 {
			break
		}
		fmt.Printf("%q ", frame)
		wire = wire[n:]
	}
	_, _, err := c.Decode([]byte("999:"))
	fmt.Println(errors.Is(err, codec.ErrFrameTooLong))
	// Output:
	// 5:hello,0:,
	// "hello" "" true
}
