package codec

import (
	"bytes"
	"fmt"
)

// DefaultMaxLength is the frame length limit that [Line] and [Delimiter]
// apply when their config leaves it zero: 64 KiB, delimiter excluded.
const DefaultMaxLength = 64 << 10

// LineConfig configures [NewLine]. The zero value selects the defaults.
type LineConfig struct {
	// MaxLength is the longest line Decode accepts, in bytes, excluding
	// the "\n" or "\r\n" that ends it. Zero means [DefaultMaxLength];
	// negative is invalid.
	MaxLength int

	// CRLF makes Encode end lines with "\r\n" instead of "\n". Decode
	// accepts both endings either way.
	CRLF bool
}

// Line is a codec for text lines: each frame ends at the first "\n" in the
// stream. Decode strips the "\n" and, if the byte before it is '\r', that
// '\r' too, so "\n" and "\r\n" endings both work and may be mixed; a '\r'
// anywhere else is an ordinary content byte. Encode appends "\n" (or
// "\r\n" with [LineConfig.CRLF]).
//
// A Line is immutable, so one value may serve every connection, from any
// number of goroutines at once (see [Shared]).
type Line struct {
	max  int
	crlf bool

	errTooLong error // precomputed so that Decode never allocates
}

// NewLine returns a Line codec configured by cfg, or an error if cfg is
// invalid (negative MaxLength).
func NewLine(cfg LineConfig) (*Line, error) {
	if cfg.MaxLength < 0 {
		return nil, fmt.Errorf("codec: LineConfig.MaxLength %d is negative", cfg.MaxLength)
	}
	limit := cfg.MaxLength
	if limit == 0 {
		limit = DefaultMaxLength
	}
	return &Line{
		max:        limit,
		crlf:       cfg.CRLF,
		errTooLong: fmt.Errorf("%w: line longer than %d bytes", ErrFrameTooLong, limit),
	}, nil
}

// Decode returns the first line of in, without its line ending, and the
// number of bytes it used, ending included. It returns n == 0 and a nil
// frame while in holds no complete line.
//
// The frame aliases in (no copy) and stays valid until the caller drops or
// overwrites those bytes; its capacity equals its length, so appending to
// it never overwrites the input that follows. An empty line yields a
// non-nil empty frame with n > 0.
//
// Decode returns an error wrapping [ErrFrameTooLong] as soon as in holds
// more than MaxLength bytes with no "\n" among them, unless the extra byte
// is a '\r' that may yet turn out to start the "\r\n" ending. Each call
// scans at most MaxLength+2 bytes, never allocates, and never modifies in.
// Call it from the goroutine that owns the connection (its event loop);
// the Line itself may be shared.
func (c *Line) Decode(in []byte) (frame []byte, n int, err error) {
	window := in
	if c.max < len(in)-2 {
		window = in[:c.max+2]
	}
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		// More than max+1 bytes, or max+1 of which the last is not a '\r':
		// even if the next byte is '\n', the line is too long.
		if last := len(in) - 1; last > c.max || (last == c.max && in[last] != '\r') {
			return nil, 0, c.errTooLong
		}
		return nil, 0, nil
	}
	end := i
	if end > 0 && in[end-1] == '\r' {
		end--
	}
	if end > c.max {
		return nil, 0, c.errTooLong
	}
	return in[:end:end], i + 1, nil
}

// errLineEndsInCR is returned by Encode for a frame ending in '\r'.
var errLineEndsInCR = fmt.Errorf("%w: line ends in '\\r', which Decode would strip", ErrCorruptFrame)

// Encode appends frame and a line ending to dst and returns the extended
// slice; it allocates only if dst lacks room.
//
// A frame that contains '\n', or that ends in '\r', cannot survive the
// round trip, so Encode refuses it with an error wrapping [ErrCorruptFrame]
// and returns dst unchanged. MaxLength is not enforced here: it limits
// what this side accepts, not what it sends.
//
// Encode does not retain frame or dst. Call it from one goroutine per
// destination buffer; the Line itself may be shared.
func (c *Line) Encode(dst, frame []byte) ([]byte, error) {
	if i := bytes.IndexByte(frame, '\n'); i >= 0 {
		return dst, fmt.Errorf("%w: line contains '\\n' at offset %d", ErrCorruptFrame, i)
	}
	if len(frame) > 0 && frame[len(frame)-1] == '\r' {
		return dst, errLineEndsInCR
	}
	dst = append(dst, frame...)
	if c.crlf {
		return append(dst, '\r', '\n'), nil
	}
	return append(dst, '\n'), nil
}
