package websocket

import "encoding/binary"

// Masking (RFC 6455 §5.3): every byte i of a masked payload is XORed
// with key[i%4]. The functions here take the key offset of the first
// byte (pos, 0..3) so that a payload may be unmasked in pieces as it
// arrives, and return the offset for the next piece.
//
// They work eight bytes at a time: the key, rotated to start at pos,
// is repeated into a 64-bit word and XORed with unaligned
// little-endian loads, which compile to plain moves on amd64 and
// arm64 (measured no slower than unsafe pointer loads, see
// BenchmarkMask). A byte loop handles the tail. Both are pure
// functions of their arguments and safe to call from any goroutine
// that owns the slices.

// maskWord returns the key rotated to start at offset pos and repeated
// into a 64-bit word, for little-endian loads of 8 payload bytes.
func maskWord(key [4]byte, pos int) uint64 {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	// Rotating right by 8*pos puts key[pos] in the low byte.
	s := uint(pos&3) * 8
	k32 := uint32(k>>s | k<<(32-s))
	return uint64(k32) | uint64(k32)<<32
}

// maskBytes XORs b in place with the 4-byte masking key, starting at
// key offset pos (0..3), and returns the key offset after b
// ((pos+len(b))&3). It does not allocate.
func maskBytes(key [4]byte, pos int, b []byte) int {
	return maskCopy(b, b, key, pos)
}

// maskCopy writes src XOR key (from offset pos) into dst[:len(src)] and
// returns the new offset. dst may alias src exactly or not overlap it
// at all; it must be at least len(src) long. It does not allocate.
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	pos &= 3
	n := len(src)
	dst = dst[:n]
	end := (pos + n) & 3
	if n >= 8 {
		kw := maskWord(key, pos)
		for len(src) >= 32 {
			_ = src[31]
			_ = dst[31]
			binary.LittleEndian.PutUint64(dst[0:], binary.LittleEndian.Uint64(src[0:])^kw)
			binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:])^kw)
			binary.LittleEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[16:])^kw)
			binary.LittleEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[24:])^kw)
			src = src[32:]
			dst = dst[32:]
		}
		for len(src) >= 8 {
			binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^kw)
			src = src[8:]
			dst = dst[8:]
		}
		// Multiples of 8 leave the key offset where it was.
	}
	dst = dst[:len(src)]
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)&3]
	}
	return end
}
