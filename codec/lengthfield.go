package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// DefaultMaxFrameLength is the frame length limit that [LengthField]
// applies when its config leaves it zero: 8 MiB, header included.
const DefaultMaxFrameLength = 8 << 20

// LengthFieldConfig configures [NewLengthField]. The zero value selects the
// defaults: a 4-byte big-endian length at offset 0 that counts the bytes
// after it, nothing stripped, frames of at most [DefaultMaxFrameLength].
//
// A frame on the wire is a header, LengthFieldOffset bytes followed by the
// LengthFieldLength-byte length field, then the bytes after the field:
//
//	header := LengthFieldOffset + LengthFieldLength
//	adjust := LengthAdjustment            // if !LengthIncludesHeader
//	adjust := LengthAdjustment - header   // if LengthIncludesHeader
//	after  := value + adjust              // bytes after the length field
//	total  := header + after              // bytes the frame uses: Decode's n
//	frame  := wire[InitialBytesToStrip:total]
//
// So LengthIncludesHeader is a shorthand for a further adjustment of
// -header, and Netty configurations carry over unchanged. The value is read
// as unsigned. Decode reports, as soon as the header is in:
// after < 0, a value of 2^63 or more, or a total that overflows int64 as
// [ErrCorruptFrame]; total > MaxFrameLength as [ErrFrameTooLong];
// InitialBytesToStrip > total as [ErrCorruptFrame].
type LengthFieldConfig struct {
	// ByteOrder is the byte order of the length field: nil means
	// [binary.BigEndian]. Any implementation must behave as big- or
	// little-endian (binary.NativeEndian does).
	ByteOrder binary.ByteOrder

	// LengthFieldOffset is the number of bytes before the length field;
	// not negative. Encode writes them as zeros.
	LengthFieldOffset int

	// LengthFieldLength is the size of the length field in bytes: 1, 2, 3,
	// 4 or 8; zero means 4.
	LengthFieldLength int

	// LengthAdjustment is added to the length field's value to get the
	// number of bytes after the field that belong to the frame. Use it for
	// fields that count more or less than that, such as a further header
	// after the field (positive) or the whole frame (negative header size,
	// or set LengthIncludesHeader instead).
	LengthAdjustment int

	// LengthIncludesHeader says the length field counts the header (the
	// offset bytes and the field itself) too. It subtracts the header size
	// from the adjustment; do not also express it in LengthAdjustment.
	LengthIncludesHeader bool

	// InitialBytesToStrip is the number of bytes Decode removes from the
	// front of each frame; not negative. Set it to LengthFieldOffset +
	// LengthFieldLength to get just the bytes after the length field,
	// which is what Encode takes, so that Decode(Encode(frame)) == frame.
	InitialBytesToStrip int

	// MaxFrameLength limits total, the frame's length on the wire,
	// header included (before stripping). Zero means
	// [DefaultMaxFrameLength]; negative is invalid.
	MaxFrameLength int
}

// LengthField is a codec for frames that carry their length in a binary
// header field, like Netty's LengthFieldBasedFrameDecoder and
// LengthFieldPrepender; [LengthFieldConfig] gives the layout and the
// arithmetic.
//
// A LengthField is immutable, so one value may serve every connection,
// from any number of goroutines at once (see [Shared]).
type LengthField struct {
	offset   int   // bytes before the length field
	fieldLen int   // 1, 2, 3, 4 or 8
	header   int   // offset + fieldLen
	strip    int   // InitialBytesToStrip
	max      int   // MaxFrameLength
	little   bool  // little-endian field
	adjust   int64 // bytes after the field = value + adjust
	base     int64 // total = base + value; base = header + adjust <= max
	fieldMax uint64

	// Precomputed so that Decode never allocates.
	errTooLong, errNegative, errOverflow, errStrip error
}

// NewLengthField returns a LengthField codec configured by cfg, or an error
// if cfg is invalid: a negative offset, strip or limit; a field length not
// in {1, 2, 3, 4, 8}; a ByteOrder that is neither big- nor little-endian;
// or a config in which no frame can be valid (header or strip longer than
// MaxFrameLength, or an adjustment that makes every frame too long).
func NewLengthField(cfg LengthFieldConfig) (*LengthField, error) {
	c := &LengthField{
		offset:   cfg.LengthFieldOffset,
		fieldLen: cfg.LengthFieldLength,
		strip:    cfg.InitialBytesToStrip,
		max:      cfg.MaxFrameLength,
	}
	if c.fieldLen == 0 {
		c.fieldLen = 4
	}
	if c.max == 0 {
		c.max = DefaultMaxFrameLength
	}
	switch c.fieldLen {
	case 1, 2, 3, 4:
		c.fieldMax = 1<<(8*c.fieldLen) - 1
	case 8:
		c.fieldMax = math.MaxInt64
	default:
		return nil, fmt.Errorf("codec: LengthFieldConfig.LengthFieldLength %d is not 1, 2, 3, 4 or 8", c.fieldLen)
	}
	switch {
	case c.offset < 0:
		return nil, fmt.Errorf("codec: LengthFieldConfig.LengthFieldOffset %d is negative", c.offset)
	case c.strip < 0:
		return nil, fmt.Errorf("codec: LengthFieldConfig.InitialBytesToStrip %d is negative", c.strip)
	case c.max < 0:
		return nil, fmt.Errorf("codec: LengthFieldConfig.MaxFrameLength %d is negative", c.max)
	case c.offset > c.max-c.fieldLen:
		return nil, fmt.Errorf("codec: LengthFieldConfig: %d-byte header exceeds MaxFrameLength %d",
			int64(c.offset)+int64(c.fieldLen), c.max)
	case c.strip > c.max:
		return nil, fmt.Errorf("codec: LengthFieldConfig.InitialBytesToStrip %d exceeds MaxFrameLength %d", c.strip, c.max)
	}
	c.header = c.offset + c.fieldLen

	little, err := endianness(cfg.ByteOrder)
	if err != nil {
		return nil, err
	}
	c.little = little

	c.adjust = int64(cfg.LengthAdjustment)
	if cfg.LengthIncludesHeader {
		if c.adjust < math.MinInt64+int64(c.header) {
			return nil, fmt.Errorf("codec: LengthFieldConfig.LengthAdjustment %d out of range", cfg.LengthAdjustment)
		}
		c.adjust -= int64(c.header)
	}
	if c.adjust > int64(c.max)-int64(c.header) {
		return nil, fmt.Errorf("codec: LengthFieldConfig: adjustment %d makes every frame exceed MaxFrameLength %d",
			c.adjust, c.max)
	}
	c.base = int64(c.header) + c.adjust

	c.errTooLong = fmt.Errorf("%w: length field claims a frame longer than %d bytes", ErrFrameTooLong, c.max)
	c.errNegative = fmt.Errorf("%w: length field claims a frame shorter than its %d-byte header", ErrCorruptFrame, c.header)
	c.errOverflow = fmt.Errorf("%w: length field value overflows", ErrCorruptFrame)
	c.errStrip = fmt.Errorf("%w: frame shorter than the %d bytes to strip", ErrCorruptFrame, c.strip)
	return c, nil
}

// endianness reports whether order is little-endian (false: big-endian),
// or an error if it is neither.
func endianness(order binary.ByteOrder) (little bool, err error) {
	if order == nil {
		return false, nil
	}
	probe := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	switch {
	case order.Uint16(probe) == 0x0102 && order.Uint32(probe) == 0x01020304 &&
		order.Uint64(probe) == 0x0102030405060708:
		return false, nil
	case order.Uint16(probe) == 0x0201 && order.Uint32(probe) == 0x04030201 &&
		order.Uint64(probe) == 0x0807060504030201:
		return true, nil
	}
	return false, fmt.Errorf("codec: LengthFieldConfig.ByteOrder %v is neither big- nor little-endian", order)
}

// value reads the length field from b, which holds exactly fieldLen bytes.
func (c *LengthField) value(b []byte) uint64 {
	switch c.fieldLen {
	case 1:
		return uint64(b[0])
	case 2:
		if c.little {
			return uint64(binary.LittleEndian.Uint16(b))
		}
		return uint64(binary.BigEndian.Uint16(b))
	case 3:
		if c.little {
			return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16
		}
		return uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	case 4:
		if c.little {
			return uint64(binary.LittleEndian.Uint32(b))
		}
		return uint64(binary.BigEndian.Uint32(b))
	default:
		if c.little {
			return binary.LittleEndian.Uint64(b)
		}
		return binary.BigEndian.Uint64(b)
	}
}

// appendValue appends v, which fits in fieldLen bytes, as the length field.
func (c *LengthField) appendValue(dst []byte, v uint64) []byte {
	switch c.fieldLen {
	case 1:
		return append(dst, byte(v))
	case 2:
		if c.little {
			return binary.LittleEndian.AppendUint16(dst, uint16(v))
		}
		return binary.BigEndian.AppendUint16(dst, uint16(v))
	case 3:
		if c.little {
			return append(dst, byte(v), byte(v>>8), byte(v>>16))
		}
		return append(dst, byte(v>>16), byte(v>>8), byte(v))
	case 4:
		if c.little {
			return binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
		return binary.BigEndian.AppendUint32(dst, uint32(v))
	default:
		if c.little {
			return binary.LittleEndian.AppendUint64(dst, v)
		}
		return binary.BigEndian.AppendUint64(dst, v)
	}
}

// Decode returns the first frame of in, minus its first InitialBytesToStrip
// bytes, and n, the frame's total length on the wire. It returns n == 0 and
// a nil frame until in holds the header, and then until it holds the whole
// frame.
//
// The frame aliases in (no copy) and stays valid until the caller drops or
// overwrites those bytes; its capacity equals its length, so appending to
// it never overwrites the input that follows. A frame with nothing left
// after stripping is non-nil and empty, with n > 0.
//
// Once the header is in, Decode checks the claimed length before waiting
// for any payload (see [LengthFieldConfig] for the errors). It reads only
// the header, never allocates, and never modifies in. Call it from the
// goroutine that owns the connection (its event loop); the LengthField
// itself may be shared.
func (c *LengthField) Decode(in []byte) (frame []byte, n int, err error) {
	if len(in) < c.header {
		return nil, 0, nil
	}
	v := c.value(in[c.offset:c.header])
	if v > math.MaxInt64 || (c.base > 0 && int64(v) > math.MaxInt64-c.base) {
		return nil, 0, c.errOverflow
	}
	total := c.base + int64(v)
	switch {
	case total < int64(c.header):
		return nil, 0, c.errNegative
	case total > int64(c.max):
		return nil, 0, c.errTooLong
	case int64(c.strip) > total:
		return nil, 0, c.errStrip
	}
	t := int(total) // <= max, so it fits
	if len(in) < t {
		return nil, 0, nil
	}
	return in[c.strip:t:t], t, nil
}

// Encode appends the header and then frame to dst and returns the extended
// slice; it allocates only if dst lacks room. frame is everything after the
// length field, so the field's value is len(frame) minus the effective
// adjustment (see [LengthFieldConfig]). The LengthFieldOffset bytes before
// the field are written as zeros; a protocol that puts something there can
// overwrite out[len(dst):][:LengthFieldOffset] in the result.
//
// If that value does not fit the field, Encode returns an error wrapping
// [ErrFrameTooLong]; if it is negative (a frame shorter than a positive
// adjustment says it must be), one wrapping [ErrCorruptFrame]. Either way
// it returns dst unchanged. MaxFrameLength is not enforced here: it limits
// what this side accepts, not what it sends.
//
// Encode does not retain frame or dst. Call it from one goroutine per
// destination buffer; the LengthField itself may be shared.
func (c *LengthField) Encode(dst, frame []byte) ([]byte, error) {
	size := int64(len(frame))
	if c.adjust < 0 && size > math.MaxInt64+c.adjust {
		return dst, fmt.Errorf("%w: %d-byte frame overflows the length field", ErrFrameTooLong, size)
	}
	v := size - c.adjust
	if v < 0 {
		return dst, fmt.Errorf("%w: %d-byte frame is shorter than the %d bytes the length adjustment requires",
			ErrCorruptFrame, size, c.adjust)
	}
	if uint64(v) > c.fieldMax {
		return dst, fmt.Errorf("%w: %d-byte frame needs length value %d, more than a %d-byte field holds",
			ErrFrameTooLong, size, v, c.fieldLen)
	}
	dst = slices.Grow(dst, c.header+len(frame))
	dst = append(dst, make([]byte, c.offset)...)
	dst = c.appendValue(dst, uint64(v))
	return append(dst, frame...), nil
}
