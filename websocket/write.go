package websocket

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/mill-io/mill"
)

// WriteMessage writes one message, text (p must be valid UTF-8: it is
// not checked) or binary, as one frame, compressed if permessage-deflate
// was negotiated and p is not shorter than the Compression's Threshold.
// What the socket does not take at once is queued by mill (copied), with
// mill's outbound limits: past WithOutboundLimit the connection closes as
// a slow consumer (mill.ErrSlowConsumer), or, under mill's FailWrite
// policy, the write fails with mill.ErrOutboundFull and the connection
// stays open. It returns ErrBadOpcode for another opcode, ErrClosed once
// the connection is closing (a close frame was sent or received) or
// closed, or mill's write error. Loop-only; p is not retained.
func (c *Conn) WriteMessage(op Opcode, p []byte) error {
	if op != OpText && op != OpBinary {
		return ErrBadOpcode
	}
	if c.state != stateOpen {
		return ErrClosed
	}
	return c.writeData(op, p)
}

// AsyncWriteMessage writes a message from any goroutine: WriteMessage
// runs on the connection's loop, and cb (if not nil) hears its result
// there — ErrClosed among others, for a connection that is closing or
// has closed by then: the call cannot know, since the state is the
// loop's, so its nil result means only "submitted". It returns
// ErrBadOpcode at once for another opcode, and ErrClosed at once only
// if the connection's loop has stopped (cb then runs on the calling
// goroutine with ErrClosed). p must not be modified until cb
// runs (or, without cb, ever: pass a copy). Messages written from one
// goroutine keep their order. Any goroutine.
func (c *Conn) AsyncWriteMessage(op Opcode, p []byte, cb WriteCallback) error {
	if op != OpText && op != OpBinary {
		return ErrBadOpcode
	}
	return c.async(func(mill.Conn) { c.report(cb, c.WriteMessage(op, p)) }, cb)
}

// async runs fn, which writes and reports to cb (report), on the
// connection's loop: one closure per call. If the loop has stopped, cb
// hears ErrClosed at once.
func (c *Conn) async(fn func(mill.Conn), cb WriteCallback) error {
	if c.mc.Do(fn) != nil {
		c.report(cb, ErrClosed)
		return ErrClosed
	}
	return nil
}

// report gives cb, if any, a write's result.
func (c *Conn) report(cb WriteCallback, err error) {
	if cb != nil {
		cb(c, err)
	}
}

// Ping sends a ping with payload p (at most 125 bytes); the peer's
// pong reaches a PongHandler. Loop-only.
func (c *Conn) Ping(p []byte) error {
	if len(p) > 125 {
		return ErrControlTooLong
	}
	if c.state != stateOpen {
		return ErrClosed
	}
	return c.writeControl(OpPing, p)
}

// AsyncPing is Ping from any goroutine (see AsyncWriteMessage).
func (c *Conn) AsyncPing(p []byte, cb WriteCallback) error {
	if len(p) > 125 {
		return ErrControlTooLong
	}
	return c.async(func(mill.Conn) { c.report(cb, c.Ping(p)) }, cb)
}

// Close starts the closing handshake: a close frame with code and
// reason goes out after what was written before, then the connection
// waits for the peer's close frame (messages that arrive meanwhile are
// dropped) at most WithCloseTimeout, and closes; OnClose then sees a
// *CloseError with our code and Remote false. code StatusNoStatus sends
// a close frame without a code (reason must then be empty). It returns
// ErrBadStatus for a code that may not be sent, ErrControlTooLong for a
// reason over 123 bytes, ErrInvalidUTF8 for one that is not UTF-8,
// ErrClosed if the loop has stopped; on a connection already closing it
// does nothing. Any goroutine; it takes effect on the loop once the
// current callback returns (called from OnMessage, messages already
// buffered behind the current one may still be delivered first).
func (c *Conn) Close(code StatusCode, reason string) error {
	switch {
	case code == StatusNoStatus && reason != "":
		return ErrBadStatus
	case code != StatusNoStatus && !code.validWire():
		return ErrBadStatus
	case len(reason) > 123:
		return ErrControlTooLong
	case !utf8.ValidString(reason):
		return ErrInvalidUTF8
	}
	if err := c.mc.Do(func(mill.Conn) { c.startClose(code, reason) }); err != nil {
		return ErrClosed
	}
	return nil
}

// startClose sends our close frame. Loop goroutine.
func (c *Conn) startClose(code StatusCode, reason string) {
	if c.state != stateOpen {
		return
	}
	var b [125]byte
	body := b[:0]
	if code != StatusNoStatus {
		body = binary.BigEndian.AppendUint16(body, uint16(code))
		body = append(body, reason...)
	}
	if err := c.writeControl(OpClose, body); err != nil {
		// No close frame went out: mill refused it (its queue is full
		// under mill.FailWrite) or the socket failed. End the connection
		// rather than leave it open with the close forgotten; OnClose
		// tells why.
		c.abort(&CloseError{Code: StatusAbnormal, Err: fmt.Errorf("our close frame (%d) was not sent: %w", code, err)})
		return
	}
	c.state = stateCloseSent
	c.closeErr = &CloseError{Code: code, Reason: reason}
	c.closeAt = time.Now().UnixNano()
	c.mc.SetQuietFunc(c.ep.cfg.closeTimeout, keepAlive)
}

// writeControl writes a control frame (payload at most 125 bytes).
// Loop goroutine.
func (c *Conn) writeControl(op Opcode, p []byte) error {
	return c.writeFrame(op, 0, p)
}

// writeData writes a data message as one frame, compressing it when
// that was negotiated and worth it. Loop goroutine.
func (c *Conn) writeData(op Opcode, p []byte) error {
	if c.compress && len(p) >= c.ep.cfg.compression.threshold() {
		// Room for data that does not compress: deflate adds at most a
		// few bytes per 16 KiB stored block.
		z := c.ep.bufs.Get(len(p) + len(p)>>6 + 64)[:0]
		z = c.defl.deflate(z, p)
		err := c.writeFrame(op, 0x40, z)
		c.ep.bufs.Put(z)
		if err != nil && c.zipCtx && c.state == stateOpen {
			// Our compressor's history now holds a message the peer
			// never got (mill refused it under FailWrite): every later
			// message would inflate wrong on the other side.
			c.abort(&CloseError{Code: StatusAbnormal, Err: fmt.Errorf("%w: a refused compressed message broke the compression context", err)})
		}
		return err
	}
	return c.writeFrame(op, 0, p)
}

// smallFrame: payloads up to this size are copied behind their header
// and written with one write; larger ones go with one writev of the two.
const smallFrame = 512

// writeFrame writes one final frame. A client's frame is masked into a
// pooled copy behind its header (masking needs the copy anyway); a
// server's small frame is copied there too, and a larger one is written
// from where it is. Loop goroutine.
func (c *Conn) writeFrame(op Opcode, rsv byte, p []byte) error {
	var key [4]byte
	if c.client {
		binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	}
	n := putHeader(c.hb[:], true, rsv, op, len(p), c.client, key)
	var err error
	switch {
	case len(p) == 0:
		_, err = c.mc.Write(c.hb[:n])
	case c.client || len(p) <= smallFrame:
		b := c.ep.bufs.Get(n + len(p))
		copy(b, c.hb[:n])
		if c.client {
			maskCopy(b[n:], p, key, 0)
		} else {
			copy(b[n:], p)
		}
		_, err = c.mc.Write(b)
		c.ep.bufs.Put(b)
	default:
		c.iov[0], c.iov[1] = c.hb[:n], p
		_, err = c.mc.Writev(c.iov[:])
		c.iov[0], c.iov[1] = nil, nil
	}
	return err
}
