package websocket

import "encoding/binary"

// utf8Validator validates a UTF-8 stream (RFC 3629) fed in pieces split
// anywhere, even inside a code point, as a text message arrives frame
// by frame and read by read. The zero value is ready, at a code point
// boundary. It is not safe for concurrent use: one goroutine (the
// connection's loop) feeds it.
type utf8Validator struct {
	need uint8 // continuation bytes still due for the current code point
	lo   uint8 // smallest byte allowed next (when need > 0)
	hi   uint8 // largest byte allowed next (when need > 0)
	bad  bool  // the stream cannot be valid UTF-8 any more
}

// utf8Lead describes each lead byte: the number of continuation bytes
// it takes (bits 0-7), and the range allowed for the first of them
// (lo in bits 8-15, hi in bits 16-23), which rules out overlong forms
// (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
// U+10FFFF (F4 90..BF). 0 marks a byte that cannot start a code point:
// a continuation byte, C0, C1 and F5..FF. ASCII entries are unused.
var utf8Lead = func() (t [256]uint32) {
	entry := func(need, lo, hi uint32) uint32 { return need | lo<<8 | hi<<16 }
	for c := 0xC2; c <= 0xDF; c++ {
		t[c] = entry(1, 0x80, 0xBF)
	}
	for c := 0xE0; c <= 0xEF; c++ {
		t[c] = entry(2, 0x80, 0xBF)
	}
	t[0xE0] = entry(2, 0xA0, 0xBF)
	t[0xED] = entry(2, 0x80, 0x9F)
	for c := 0xF0; c <= 0xF4; c++ {
		t[c] = entry(3, 0x80, 0xBF)
	}
	t[0xF0] = entry(3, 0x90, 0xBF)
	t[0xF4] = entry(3, 0x80, 0x8F)
	return t
}()

// feed validates p, following what was fed before. It returns false as
// soon as the stream so far cannot be the prefix of valid UTF-8 (at the
// first byte that makes it so), and keeps returning false until reset.
// It does not retain p.
func (v *utf8Validator) feed(p []byte) bool {
	if v.bad {
		return false
	}
	need, lo, hi := v.need, v.lo, v.hi
	i := 0
	for {
		// Finish the code point under way.
		for need > 0 {
			if i >= len(p) {
				v.need, v.lo, v.hi = need, lo, hi
				return true
			}
			c := p[i]
			if c < lo || c > hi {
				v.bad = true
				return false
			}
			lo, hi = 0x80, 0xBF
			need--
			i++
		}
		// At a boundary: skip ASCII, 32 then 8 bytes at a time.
		for len(p)-i >= 32 {
			q := p[i : i+32]
			w := binary.LittleEndian.Uint64(q[0:]) | binary.LittleEndian.Uint64(q[8:]) |
				binary.LittleEndian.Uint64(q[16:]) | binary.LittleEndian.Uint64(q[24:])
			if w&0x8080808080808080 != 0 {
				break
			}
			i += 32
		}
		// Then one code point at a time while whole ones are in p,
		// still skipping 8 ASCII bytes at once where it can.
		for len(p)-i >= 4 {
			c := p[i]
			if c < 0x80 {
				if len(p)-i >= 8 && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
					i += 8
				} else {
					i++
				}
				continue
			}
			e := utf8Lead[c]
			if e == 0 {
				v.bad = true
				return false
			}
			if d := p[i+1]; d < uint8(e>>8) || d > uint8(e>>16) {
				v.bad = true
				return false
			}
			switch uint8(e) {
			case 1:
				i += 2
			case 2:
				if p[i+2]&0xC0 != 0x80 {
					v.bad = true
					return false
				}
				i += 3
			default:
				if p[i+2]&0xC0 != 0x80 || p[i+3]&0xC0 != 0x80 {
					v.bad = true
					return false
				}
				i += 4
			}
		}
		// The last few bytes, which may end inside a code point.
		for i < len(p) && p[i] < 0x80 {
			i++
		}
		if i >= len(p) {
			v.need = 0
			return true
		}
		e := utf8Lead[p[i]]
		if e == 0 {
			v.bad = true
			return false
		}
		need, lo, hi = uint8(e), uint8(e>>8), uint8(e>>16)
		i++
	}
}

// complete reports whether everything fed so far is valid and ends on a
// code point boundary.
func (v *utf8Validator) complete() bool { return !v.bad && v.need == 0 }

// reset makes v ready for a new message.
func (v *utf8Validator) reset() { *v = utf8Validator{} }
