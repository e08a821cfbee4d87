package codec

import "errors"

// Decoder splits an inbound byte stream into frames.
type Decoder interface {
	// Decode examines in, the connection's unread input (contiguous), and returns the next frame.
	// n is how many bytes of in the frame used (header, payload, delimiter); the caller drops them.
	// n == 0 with a nil error means "incomplete: need more bytes" (in is left untouched and offered again,
	// with more bytes appended, next time). A complete frame always has n > 0, even if the frame itself is empty.
	// frame aliases in whenever the frame is contiguous in it (all built-ins: always) — no copy — and is valid
	// until the caller drops or overwrites those bytes. A non-nil error means the stream is unusable
	// (ErrFrameTooLong, ErrCorruptFrame, or wrapped versions of them); the connection will be closed.
	// Decode must never allocate in proportion to a length claimed by the input, and must detect an
	// over-limit frame as soon as the header (or, for delimiter codecs, max+delimiter bytes without a delimiter) is seen.
	Decode(in []byte) (frame []byte, n int, err error)
}

// Encoder turns frames into bytes on the wire.
type Encoder interface {
	// Encode appends frame's wire form to dst and returns the extended slice (append semantics:
	// no allocation when dst has room). It must not retain frame or dst.
	Encode(dst, frame []byte) ([]byte, error)
}

// Codec is a Decoder and an Encoder.
type Codec interface {
	Decoder
	Encoder
}

// Factory makes a codec for one connection; stateless codecs may return the same value each time.
type Factory func() Codec

var (
	// ErrFrameTooLong reports a frame longer than the codec's limit (on
	// decode) or longer than the wire format can express (on encode).
	// Errors returned by the built-in codecs wrap it; test with [errors.Is].
	ErrFrameTooLong = errors.New("codec: frame too long")

	// ErrCorruptFrame reports input that breaks the wire format (on decode)
	// or a frame the wire format cannot carry unchanged (on encode).
	// Errors returned by the built-in codecs wrap it; test with [errors.Is].
	ErrCorruptFrame = errors.New("codec: corrupt frame")
)

// Shared returns a Factory that hands every connection the same codec c.
// Use it only for stateless codecs that are safe for concurrent use, since
// connections on different event loops then call c at the same time. All
// built-in codecs qualify: they are immutable once constructed.
func Shared(c Codec) Factory {
	return func() Codec { return c }
}

// Must returns c, or panics if err is not nil. It wraps a constructor call
// whose configuration is known to be valid, such as in a package-level
// variable: var lines = codec.Must(codec.NewLine(codec.LineConfig{})).
func Must[C Codec](c C, err error) C {
	if err != nil {
		panic(err)
	}
	return c
}
