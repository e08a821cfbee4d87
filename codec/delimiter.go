package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// DelimiterConfig configures [NewDelimiter]. Delimiters is required; the
// zero value of every other field selects the default.
type DelimiterConfig struct {
	// Delimiters lists the byte sequences that end a frame; at least one,
	// none of them empty. Encode appends the first. NewDelimiter copies
	// them, so the caller may reuse the slices afterwards.
	Delimiters [][]byte

	// MaxLength is the longest frame Decode accepts, in bytes, excluding
	// the delimiter (even with KeepDelimiter). Zero means
	// [DefaultMaxLength]; negative is invalid.
	MaxLength int

	// KeepDelimiter makes Decode return frames with their delimiter still
	// on the end. By default the delimiter is stripped.
	KeepDelimiter bool
}

// Delimiter is a codec for frames that end in one of a set of delimiter
// byte sequences.
//
// A frame ends at the delimiter occurrence that is complete earliest in the
// stream, that is, the one whose last byte comes first. If occurrences of
// several delimiters end at the same byte (one delimiter is a suffix of
// another, like "\n" and "\r\n"), the longest wins, so the frame is the
// shortest possible. This is Netty's "shortest frame wins" rule, except
// where one delimiter occurs inside another one other than as a suffix
// ("\r" and "\r\n"): then the rule as stated picks the occurrence that
// completes first (of "\r"), because deciding by the frame length alone
// would make the result depend on how the stream was split into reads.
// With this rule, frames never depend on the read boundaries.
//
// A Delimiter is immutable, so one value may serve every connection, from
// any number of goroutines at once (see [Shared]).
type Delimiter struct {
	delims  [][]byte
	maxLen  int // length of the longest delimiter
	max     int
	keep    bool
	tooLong error // precomputed so that Decode never allocates
}

// NewDelimiter returns a Delimiter codec configured by cfg, or an error if
// cfg is invalid: no delimiters, an empty delimiter, or a negative
// MaxLength.
func NewDelimiter(cfg DelimiterConfig) (*Delimiter, error) {
	if len(cfg.Delimiters) == 0 {
		return nil, errors.New("codec: DelimiterConfig.Delimiters is empty")
	}
	if cfg.MaxLength < 0 {
		return nil, fmt.Errorf("codec: DelimiterConfig.MaxLength %d is negative", cfg.MaxLength)
	}
	c := &Delimiter{max: cfg.MaxLength, keep: cfg.KeepDelimiter}
	if c.max == 0 {
		c.max = DefaultMaxLength
	}
	c.delims = make([][]byte, len(cfg.Delimiters))
	for i, d := range cfg.Delimiters {
		if len(d) == 0 {
			return nil, fmt.Errorf("codec: DelimiterConfig.Delimiters[%d] is empty", i)
		}
		c.delims[i] = bytes.Clone(d)
		c.maxLen = max(c.maxLen, len(d))
	}
	c.tooLong = fmt.Errorf("%w: no delimiter within %d bytes", ErrFrameTooLong, c.max)
	return c, nil
}

// find returns the end (index just past the delimiter) of the delimiter
// occurrence that ends first in in[:limit], and that delimiter's length,
// or end < 0 if in[:limit] holds no complete delimiter.
func (c *Delimiter) find(in []byte, limit int) (end, dlen int) {
	end = -1
	for _, d := range c.delims {
		// An occurrence of d that ends at or before end lies in in[:end].
		w := limit
		if end >= 0 {
			w = end
		}
		i := bytes.Index(in[:w], d)
		if i < 0 {
			continue
		}
		// The window makes e <= end; on a tie the longer delimiter wins.
		if e := i + len(d); end < 0 || e < end || len(d) > dlen {
			end, dlen = e, len(d)
		}
	}
	return end, dlen
}

// mayComplete reports whether in, which holds no complete delimiter, ends
// with the start of an occurrence that, once completed by more input,
// would end a frame of at most max bytes.
func (c *Delimiter) mayComplete(in []byte) bool {
	for _, d := range c.delims {
		for s := max(0, len(in)-len(d)+1); s <= c.max && s < len(in); s++ {
			if bytes.HasPrefix(d, in[s:]) {
				return true
			}
		}
	}
	return false
}

// Decode returns the first frame of in and the number of bytes it used,
// delimiter included. It returns n == 0 and a nil frame while in holds no
// complete frame. The frame excludes the delimiter unless the config says
// KeepDelimiter.
//
// The frame aliases in (no copy) and stays valid until the caller drops or
// overwrites those bytes; its capacity equals its length, so appending to
// it never overwrites the input that follows. An empty frame is non-nil
// with n > 0.
//
// Decode returns an error wrapping [ErrFrameTooLong] as soon as no
// delimiter occurrence that ends within in, or that may yet be completed by
// the bytes at its end, would leave a frame of at most MaxLength bytes;
// at the latest, when MaxLength plus the longest delimiter's length bytes
// hold no delimiter. Each call scans at most that many bytes once per
// delimiter, never allocates, and never modifies in. Call it from the
// goroutine that owns the connection (its event loop); the Delimiter itself
// may be shared.
func (c *Delimiter) Decode(in []byte) (frame []byte, n int, err error) {
	// An occurrence ending beyond max+maxLen leaves a frame longer than
	// max, so searching further cannot turn an error into a frame.
	limit := len(in)
	if c.max < limit-c.maxLen {
		limit = c.max + c.maxLen
	}
	end, dlen := c.find(in, limit)
	if end < 0 {
		if len(in) > c.max && !c.mayComplete(in) {
			return nil, 0, c.tooLong
		}
		return nil, 0, nil
	}
	size := end - dlen
	if size > c.max {
		return nil, 0, c.tooLong
	}
	if c.keep {
		size = end
	}
	return in[:size:size], end, nil
}

// Encode appends frame and the first delimiter to dst and returns the
// extended slice; it allocates only if dst lacks room.
//
// If Decode of the result would not end the frame exactly at the appended
// delimiter (because frame contains a delimiter, or its tail and the
// appended delimiter form a different delimiter that ends first or at the
// same byte and is longer), Encode returns an error wrapping
// [ErrCorruptFrame] and dst with its length unchanged. So Decode gives back
// frame, or with KeepDelimiter frame followed by the first delimiter.
// This check scans the frame once per delimiter. MaxLength is not enforced
// here: it limits what this side accepts, not what it sends.
//
// Encode does not retain frame or dst. Call it from one goroutine per
// destination buffer; the Delimiter itself may be shared.
func (c *Delimiter) Encode(dst, frame []byte) ([]byte, error) {
	start := len(dst)
	out := append(append(dst, frame...), c.delims[0]...)
	wire := out[start:]
	if end, dlen := c.find(wire, len(wire)); end != len(wire) || dlen != len(c.delims[0]) {
		return dst, fmt.Errorf("%w: delimiter inside %d-byte frame", ErrCorruptFrame, len(frame))
	}
	return out, nil
}
