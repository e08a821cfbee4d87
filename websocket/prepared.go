package websocket

import (
	"sync"

	"github.com/mill-io/mill"
)

// Prepared is a message framed once, to be written to many connections
// (Broadcast): a server connection writes the same frame bytes as every
// other, and where permessage-deflate was negotiated without context
// takeover on our side (the default), the same compressed frame,
// compressed once, at the level of the first connection that needs it.
// A client connection still masks its own copy, and a connection that
// keeps its compression context compresses for itself. Safe for
// concurrent use; immutable once made.
type Prepared struct {
	op      Opcode
	payload []byte
	plain   []byte // the unmasked, uncompressed frame

	once sync.Once
	zip  []byte // the unmasked compressed frame, made on first use
}

// NewPrepared frames a copy of payload as one message. It returns
// ErrBadOpcode unless op is OpText or OpBinary. Any goroutine.
func NewPrepared(op Opcode, payload []byte) (*Prepared, error) {
	if op != OpText && op != OpBinary {
		return nil, ErrBadOpcode
	}
	var key [4]byte
	frame := appendHeader(make([]byte, 0, maxHeaderLen+len(payload)), true, 0, op, len(payload), false, key)
	hl := len(frame)
	frame = append(frame, payload...)
	return &Prepared{op: op, payload: frame[hl:], plain: frame}, nil
}

// Opcode is the message's opcode.
func (pm *Prepared) Opcode() Opcode { return pm.op }

// Payload is the message's payload. Do not modify it.
func (pm *Prepared) Payload() []byte { return pm.payload }

// compressed returns the frame compressed without context, made once
// at level.
func (pm *Prepared) compressed(level int) []byte {
	pm.once.Do(func() {
		var d deflater
		d.init(level, true)
		z := d.deflate(nil, pm.payload)
		d.release()
		var key [4]byte
		f := appendHeader(make([]byte, 0, maxHeaderLen+len(z)), true, 0x40, pm.op, len(z), false, key)
		pm.zip = append(f, z...)
	})
	return pm.zip
}

// WritePrepared writes pm to c, as WriteMessage would write its payload.
// A nil pm is refused with an error. Loop-only.
func (c *Conn) WritePrepared(pm *Prepared) error {
	if pm == nil {
		return errNilPrepared
	}
	if c.state != stateOpen {
		return ErrClosed
	}
	if c.client || (c.compress && c.zipCtx) {
		return c.writeData(pm.op, pm.payload)
	}
	frame := pm.plain
	if c.compress && len(pm.payload) >= c.ep.cfg.compression.threshold() {
		frame = pm.compressed(c.ep.cfg.compression.level())
	}
	_, err := c.mc.Write(frame)
	return err
}

// AsyncWritePrepared is WritePrepared from any goroutine, as
// AsyncWriteMessage (a nil pm is refused at once, as a bad opcode is
// there, without cb). Any goroutine.
func (c *Conn) AsyncWritePrepared(pm *Prepared, cb WriteCallback) error {
	if pm == nil {
		return errNilPrepared
	}
	return c.async(func(mill.Conn) { c.report(cb, c.WritePrepared(pm)) }, cb)
}

// Broadcast writes pm to every connection in conns, from any goroutine:
// the message is framed (and compressed) once, and each connection's
// loop writes it in its turn. It returns how many writes were submitted
// (nil entries and connections whose loop has stopped are skipped, and
// a nil pm writes nothing); a
// connection that is closing when its loop gets to the write skips it.
// Connections that cannot keep up fall to mill's outbound limit (slow
// consumer) like any other write. Any goroutine.
func Broadcast(conns []*Conn, pm *Prepared) int {
	if pm == nil {
		return 0
	}
	n := 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		if c.mc.Do(func(mill.Conn) { _ = c.WritePrepared(pm) }) == nil {
			n++
		}
	}
	return n
}
