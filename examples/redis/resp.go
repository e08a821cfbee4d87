package main

import (
	"bytes"
	"math"

	"github.com/mill-io/mill/codec"
)

// Default limits, checked by Decode before anything is buffered for or
// allocated by a command. Redis itself allows 512 MiB bulk strings
// (proto-max-bulk-len) and a 1 GiB query buffer; these defaults are lower.
const (
	DefaultMaxBulk    = 64 << 20  // longest bulk string argument
	DefaultMaxArgs    = 1 << 20   // most arguments in one command
	DefaultMaxInline  = 64 << 10  // longest inline command line (Redis: PROTO_INLINE_MAX_SIZE)
	DefaultMaxCommand = 128 << 20 // largest whole command on the wire
)

// maxHeaderLine bounds a "*count" or "$len" line: Redis's string2ll
// accepts at most 20 characters.
const maxHeaderLine = 20

// Limits bound the commands a connection may send. Zero fields take the
// defaults above.
type Limits struct {
	MaxBulk    int
	MaxArgs    int
	MaxInline  int
	MaxCommand int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultMaxArgs
	}
	if l.MaxInline <= 0 {
		l.MaxInline = DefaultMaxInline
	}
	if l.MaxCommand <= 0 {
		l.MaxCommand = DefaultMaxCommand
	}
	return l
}

// protoError is a malformed or over-limit command. Its text is what
// Redis puts after "-ERR " before it closes the connection; it wraps
// codec.ErrCorruptFrame or codec.ErrFrameTooLong.
type protoError struct {
	msg  string
	kind error
}

func (e *protoError) Error() string { return "Protocol error: " + e.msg }
func (e *protoError) Unwrap() error { return e.kind }

func corrupt(msg string) error { return &protoError{msg, codec.ErrCorruptFrame} }
func tooLong(msg string) error { return &protoError{msg, codec.ErrFrameTooLong} }

// respCodec frames RESP2 requests: arrays of bulk strings and inline
// commands. Decode returns one whole, validated command (frame ==
// in[:n], nothing copied); Split cuts a frame into arguments. It is
// stateful, one per connection: it remembers how far it validated an
// incomplete command, so a large command arriving in pieces is scanned
// once, and it keeps scratch space for arguments. Encode writes a frame
// as a bulk string (nil: the null bulk string).
type respCodec struct {
	lim Limits

	// Resume state for an incomplete command at the front of in: pos
	// bytes are validated; for an array, left elements remain.
	pos  int
	left int

	args    [][]byte
	scratch []byte // unquoted inline arguments
}

var _ codec.Codec = (*respCodec)(nil)

func newRESPCodec(lim Limits) *respCodec { return &respCodec{lim: lim.withDefaults()} }

// respFactory makes a codec per connection for mill.WithCodec.
func respFactory(lim Limits) codec.Factory {
	return func() codec.Codec { return newRESPCodec(lim) }
}

// Decode implements codec.Decoder. It never allocates, except for the
// error it returns.
func (d *respCodec) Decode(in []byte) ([]byte, int, error) {
	if len(in) == 0 {
		return nil, 0, nil
	}
	if d.pos > len(in) { // not the input we saw last time: start over
		d.pos, d.left = 0, 0
	}
	var n int
	var err error
	if in[0] == '*' {
		n, err = d.decodeArray(in)
	} else {
		n, err = d.decodeInline(in)
	}
	if n == 0 && err == nil {
		return nil, 0, nil
	}
	d.pos, d.left = 0, 0
	if err != nil {
		return nil, 0, err
	}
	return in[:n:n], n, nil
}

func (d *respCodec) decodeArray(in []byte) (int, error) {
	pos, left := d.pos, d.left
	if pos == 0 {
		line, next, err := headerLine(in, 1, "invalid multibulk length", "too big mbulk count string")
		if next == 0 || err != nil {
			return 0, err
		}
		count, ok := parseInt(line)
		switch {
		case !ok || count > math.MaxInt32:
			return 0, corrupt("invalid multibulk length")
		case count > int64(d.lim.MaxArgs):
			return 0, tooLong("invalid multibulk length")
		case count <= 0: // Redis ignores "*0" and "*-1" requests
			return next, nil
		}
		pos, left = next, int(count)
	}
	for ; left > 0; left-- {
		if pos == len(in) {
			d.pos, d.left = pos, left
			return 0, nil
		}
		if in[pos] != '$' {
			return 0, corrupt("expected '$', got '" + string(in[pos:pos+1]) + "'")
		}
		line, next, err := headerLine(in, pos+1, "invalid bulk length", "too big bulk count string")
		if err != nil {
			return 0, err
		}
		if next == 0 {
			d.pos, d.left = pos, left
			return 0, nil
		}
		size, ok := parseInt(line)
		switch {
		case !ok || size < 0:
			return 0, corrupt("invalid bulk length")
		case size > int64(d.lim.MaxBulk):
			return 0, tooLong("invalid bulk length")
		case int64(next)+size+2 > int64(d.lim.MaxCommand):
			return 0, tooLong("command too big")
		}
		end := next + int(size) + 2
		if end > len(in) {
			d.pos, d.left = pos, left
			return 0, nil
		}
		if in[end-2] != '\r' || in[end-1] != '\n' {
			return 0, corrupt("expected CRLF after bulk string")
		}
		pos = end
	}
	return pos, nil
}

// headerLine finds the CRLF-terminated line starting at in[start]. It
// returns the line and the offset after its CRLF, or next == 0 if the
// line is incomplete.
func headerLine(in []byte, start int, invalid, tooBig string) (line []byte, next int, err error) {
	rest := in[start:]
	i, end := 0, min(len(rest), maxHeaderLine+1)
	for i < end && rest[i] != '\r' { // short: a loop beats IndexByte
		i++
	}
	if i == end {
		i = -1
	}
	switch {
	case i < 0 && len(rest) > maxHeaderLine:
		return nil, 0, corrupt(tooBig)
	case i < 0 || i+1 == len(rest):
		return nil, 0, nil
	case rest[i+1] != '\n':
		return nil, 0, corrupt(invalid)
	}
	return rest[:i], start + i + 2, nil
}

func (d *respCodec) decodeInline(in []byte) (int, error) {
	limit := min(len(in), d.lim.MaxInline+2) // the line, "\r" and "\n"
	i := bytes.IndexByte(in[d.pos:limit], '\n')
	if i < 0 {
		if len(in) >= d.lim.MaxInline+2 {
			return 0, tooLong("too big inline request")
		}
		d.pos = len(in) // scanned; no newline yet
		return 0, nil
	}
	i += d.pos
	line := trimInline(in[:i])
	if len(line) > d.lim.MaxInline {
		return 0, tooLong("too big inline request")
	}
	n, ok := scanInline(line, nil, nil)
	if !ok {
		return 0, corrupt("unbalanced quotes in request")
	}
	if n > d.lim.MaxArgs {
		return 0, tooLong("too many arguments in inline request")
	}
	return i + 1, nil
}

// trimInline drops the '\r' of a CRLF and anything from a NUL on (Redis
// parses the line as a C string).
func trimInline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	return line
}

// Split returns the arguments of frame, a command Decode returned. The
// slice and the arguments are valid until the next Split and while
// frame is.
func (d *respCodec) Split(frame []byte) ([][]byte, error) {
	if cap(d.args) > 1024 {
		d.args = nil
	}
	args := d.args[:0]
	if len(frame) > 0 && frame[0] == '*' {
		line, pos, err := headerLine(frame, 1, "invalid multibulk length", "too big mbulk count string")
		count, ok := parseInt(line)
		if err != nil || pos == 0 || !ok {
			return nil, corrupt("invalid multibulk length")
		}
		for ; count > 0; count-- {
			if pos >= len(frame) || frame[pos] != '$' {
				return nil, corrupt("invalid bulk length")
			}
			line, next, err := headerLine(frame, pos+1, "invalid bulk length", "too big bulk count string")
			size, ok := parseInt(line)
			if err != nil || next == 0 || !ok || size < 0 || size > int64(len(frame)-next-2) {
				return nil, corrupt("invalid bulk length")
			}
			end := next + int(size)
			args = append(args, frame[next:end:end])
			pos = end + 2
		}
		d.args = args
		return args, nil
	}
	line := trimInline(bytes.TrimSuffix(frame, []byte{'\n'}))
	if cap(d.scratch) > 4096 {
		d.scratch = nil
	}
	if cap(d.scratch) < len(line) {
		d.scratch = make([]byte, 0, len(line)) // unquoting never grows a line
	}
	if _, ok := scanInline(line, &args, d.scratch[:0]); !ok {
		return nil, corrupt("unbalanced quotes in request")
	}
	d.args = args
	return args, nil
}

// Encode implements codec.Encoder: frame as a RESP bulk string.
func (d *respCodec) Encode(dst, frame []byte) ([]byte, error) {
	if frame == nil {
		return append(dst, "$-1\r\n"...), nil
	}
	return appendBulk(dst, frame), nil
}

// parseInt parses a decimal int64 the way Redis's string2ll does: at
// most 20 characters, an optional '-', no '+', no leading zeros, no
// spaces.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' || v > math.MaxUint64/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v < uint64(c-'0') { // wrapped
			return 0, false
		}
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
