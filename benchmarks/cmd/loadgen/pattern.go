package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Every message carries a 12-byte header (little-endian connection id, then
// sequence number) followed by a body taken from a per-connection pseudo-random
// template at an offset that depends on the sequence number. A message is thus
// unique per (connection, sequence), so misordered, duplicated, truncated,
// cross-connection or corrupted echoes all fail verification. Messages shorter
// than the header carry a truncated header.
const (
	headerLen = 12
	bodySlide = 251 // number of distinct body offsets (prime)
)

// pattern generates and verifies the messages of one connection.
type pattern struct {
	id   uint32
	size int
	tmpl []byte
}

func newPattern(id uint32, size int) *pattern {
	p := &pattern{id: id, size: size, tmpl: make([]byte, size+bodySlide)}
	x := uint64(id)*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D
	for i := range p.tmpl {
		// xorshift64*: cheap, deterministic, and differs per connection.
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		p.tmpl[i] = byte((x * 0x2545F4914F6CDD1D) >> 56)
	}
	return p
}

// fill writes message seq into dst, which must be exactly size bytes long.
func (p *pattern) fill(dst []byte, seq uint64) {
	off := int(seq % bodySlide)
	copy(dst, p.tmpl[off:off+p.size])
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:4], p.id)
	binary.LittleEndian.PutUint64(h[4:12], seq)
	copy(dst, h[:])
}

// verify checks that got is message seq. scratch must be size bytes long; it is
// overwritten. No allocation happens unless verification fails.
func (p *pattern) verify(got, scratch []byte, seq uint64) error {
	if len(got) != p.size {
		return mismatchError(fmt.Sprintf("conn %d seq %d: echo length %d, want %d", p.id, seq, len(got), p.size))
	}
	p.fill(scratch, seq)
	if bytes.Equal(got, scratch) {
		return nil
	}
	at := 0
	for at < len(got) && got[at] == scratch[at] {
		at++
	}
	msg := fmt.Sprintf("conn %d seq %d: echo mismatch at byte %d of %d (got %#02x, want %#02x)",
		p.id, seq, at, p.size, got[at], scratch[at])
	if len(got) >= headerLen {
		gid := binary.LittleEndian.Uint32(got[0:4])
		gseq := binary.LittleEndian.Uint64(got[4:12])
		msg += fmt.Sprintf("; received header says conn %d seq %d", gid, gseq)
	}
	return mismatchError(msg)
}

// mismatchError reports an echo that is not what was sent. It is never retried.
type mismatchError string

func (e mismatchError) Error() string { return "verify: " + string(e) }
