package websocket

import (
	"encoding/binary"
	"fmt"
)

// maxHeaderLen is the longest frame header: 2 bytes, a 64-bit extended
// length and a 4-byte masking key.
const maxHeaderLen = 14 // 2 + 8 (64-bit length) + 4 (mask key)

// header is a frame's header (RFC 6455 §5.2).
type header struct {
	fin    bool
	rsv    byte // the three reserved bits as in the first byte: 0x40 RSV1, 0x20 RSV2, 0x10 RSV3
	op     Opcode
	masked bool
	key    [4]byte
	length int64 // payload length
}

// parseHeader parses the frame header at the start of b. It returns
// n == 0 and a nil error when b does not hold the whole header yet (b
// may be any prefix, even empty). It returns an error wrapping
// ErrProtocol when the 64-bit length has its most significant bit set
// (RFC 6455 §5.2), as soon as those 8 bytes are in b. It accepts
// lengths in a longer encoding than needed, and does not judge opcodes,
// reserved bits, masking or control-frame rules: the caller does. It
// does not allocate (but for the error) and does not retain b; any
// goroutine may call it.
func parseHeader(b []byte) (h header, n int, err error) {
	if len(b) < 2 {
		return header{}, 0, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.rsv = b0 & 0x70
	h.op = Opcode(b0 & 0x0F)
	h.masked = b1&0x80 != 0
	n = 2
	switch l := b1 & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return header{}, 0, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return header{}, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return header{}, 0, fmt.Errorf("%w: frame length %#x has its most significant bit set", ErrProtocol, u)
		}
		h.length = int64(u)
		n = 10
	default:
		h.length = int64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return header{}, 0, nil
		}
		copy(h.key[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// appendHeader appends a frame header to dst and returns the extended
// slice: the length in its minimal encoding (7 bits up to 125, 16 bits
// up to 65535, 64 bits above), followed by key when masked. rsv is as
// in header.rsv (bits outside 0x70 are ignored, as are op's above
// 0x0F). length must not be negative. Any goroutine may call it.
func appendHeader(dst []byte, fin bool, rsv byte, op Opcode, length int, masked bool, key [4]byte) []byte {
	var buf [maxHeaderLen]byte
	n := putHeader(buf[:], fin, rsv, op, length, masked, key)
	return append(dst, buf[:n]...)
}

// putHeader writes the header appendHeader would append into b, which
// must be at least maxHeaderLen long, and returns its length. It does
// not allocate, so a header can be built in a stack array. Any
// goroutine may call it.
func putHeader(b []byte, fin bool, rsv byte, op Opcode, length int, masked bool, key [4]byte) int {
	if length < 0 {
		panic("websocket: negative frame length")
	}
	_ = b[maxHeaderLen-1]
	b0 := rsv&0x70 | byte(op)&0x0F
	if fin {
		b0 |= 0x80
	}
	b[0] = b0
	var b1 byte
	if masked {
		b1 = 0x80
	}
	n := 2
	switch {
	case length <= 125:
		b1 |= byte(length)
	case length <= 0xFFFF:
		b1 |= 126
		binary.BigEndian.PutUint16(b[2:4], uint16(length))
		n = 4
	default:
		b1 |= 127
		binary.BigEndian.PutUint64(b[2:10], uint64(length))
		n = 10
	}
	b[1] = b1
	if masked {
		copy(b[n:n+4], key[:])
		n += 4
	}
	return n
}
