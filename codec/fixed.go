package codec

import "fmt"

// FixedConfig configures [NewFixed]. Length is required.
type FixedConfig struct {
	// Length is the size of every frame in bytes; it must be at least 1.
	// It is also the decode limit: no frame is ever longer.
	Length int
}

// Fixed is a codec for frames of one fixed length with no header or
// delimiter: the stream is cut every Length bytes.
//
// A Fixed is immutable, so one value may serve every connection, from any
// number of goroutines at once (see [Shared]).
type Fixed struct {
	size int
}

// NewFixed returns a Fixed codec configured by cfg, or an error if
// cfg.Length is less than 1.
func NewFixed(cfg FixedConfig) (*Fixed, error) {
	if cfg.Length < 1 {
		return nil, fmt.Errorf("codec: FixedConfig.Length %d is less than 1", cfg.Length)
	}
	return &Fixed{size: cfg.Length}, nil
}

// Decode returns the first Length bytes of in as the frame, with
// n == Length, or n == 0 and a nil frame while in is shorter. It never
// returns an error.
//
// The frame aliases in (no copy) and stays valid until the caller drops or
// overwrites those bytes; its capacity equals its length, so appending to
// it never overwrites the input that follows. Decode never allocates and
// never modifies in. Call it from the goroutine that owns the connection
// (its event loop); the Fixed itself may be shared.
func (c *Fixed) Decode(in []byte) (frame []byte, n int, err error) {
	if len(in) < c.size {
		return nil, 0, nil
	}
	return in[:c.size:c.size], c.size, nil
}

// Encode appends frame to dst and returns the extended slice; it allocates
// only if dst lacks room. frame must be exactly Length bytes: a longer one
// gets an error wrapping [ErrFrameTooLong], a shorter one an error wrapping
// [ErrCorruptFrame], and dst is returned unchanged.
//
// Encode does not retain frame or dst. Call it from one goroutine per
// destination buffer; the Fixed itself may be shared.
func (c *Fixed) Encode(dst, frame []byte) ([]byte, error) {
	switch {
	case len(frame) > c.size:
		return dst, fmt.Errorf("%w: %d-byte frame for fixed length %d", ErrFrameTooLong, len(frame), c.size)
	case len(frame) < c.size:
		return dst, fmt.Errorf("%w: %d-byte frame for fixed length %d", ErrCorruptFrame, len(frame), c.size)
	}
	return append(dst, frame...), nil
}
