package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/mill-io/mill"
)

// reader is a connection's inbound frame state. It parses frames in
// place from mill's input buffer: a frame header, and a control frame,
// are consumed only once complete (so mill holds at most 139 bytes of
// them), while a data frame's payload is consumed as it arrives,
// unmasked into the message buffer. Between messages it holds no
// buffer. Loop goroutine only.
type reader struct {
	fin   bool  // the current data frame is its message's last
	frame bool  // inside a data frame's payload
	left  int64 // payload bytes of the current data frame still to come
	key   [4]byte
	pos   int    // offset in key of the next payload byte
	msgOp Opcode // the message in progress (OpText, OpBinary), or 0
	zip   bool   // the message in progress is compressed
	size  int    // bytes of the message so far (compressed, if zip)
	buf   []byte // the message so far (inflated); from the endpoint's pool
	zbuf  []byte // the current frame's compressed payload, when zip
	text  utf8Validator
}

// release gives the reader's buffers back to ep's pool. Loop goroutine.
func (r *reader) release(ep *endpoint) {
	if r.buf != nil {
		ep.bufs.Put(r.buf)
		r.buf = nil
	}
	if r.zbuf != nil {
		ep.bufs.Put(r.zbuf)
		r.zbuf = nil
	}
}

// appendBuf appends p to b, which comes from pool (or is nil), moving
// to a larger pooled slice when b is full.
func appendBuf(ep *endpoint, b, p []byte) []byte {
	if len(b)+len(p) > cap(b) {
		nb := ep.bufs.Get(len(b) + len(p))[:len(b)]
		copy(nb, b)
		if b != nil {
			ep.bufs.Put(b)
		}
		b = nb
	}
	return append(b, p...)
}

// Protocol failures found by the reader; each wraps ErrProtocol.
var (
	errReserved     = fmt.Errorf("%w: reserved bits set", ErrProtocol)
	errOpcode       = fmt.Errorf("%w: unknown opcode", ErrProtocol)
	errUnmasked     = fmt.Errorf("%w: a client frame not masked", ErrProtocol)
	errMasked       = fmt.Errorf("%w: a server frame masked", ErrProtocol)
	errControlLong  = fmt.Errorf("%w: a control frame over 125 bytes", ErrProtocol)
	errControlFrag  = fmt.Errorf("%w: a fragmented control frame", ErrProtocol)
	errContinuation = fmt.Errorf("%w: a continuation frame with no message begun", ErrProtocol)
	errInterleaved  = fmt.Errorf("%w: a new message before the last one ended", ErrProtocol)
	errCloseLen     = fmt.Errorf("%w: a close frame with a 1-byte payload", ErrProtocol)
	errCloseCode    = fmt.Errorf("%w: a close frame with a status code that may not be sent", ErrProtocol)
	errCloseUTF8    = fmt.Errorf("%w: close reason", ErrInvalidUTF8)
	errPeerGone     = fmt.Errorf("websocket: the connection ended without a close frame: %w", io.ErrUnexpectedEOF)
)

// onTraffic reads the frames buffered on c's mill connection. Loop
// goroutine, inside mill's OnTraffic.
func (c *Conn) onTraffic() mill.Action {
	in, _ := c.mc.Peek(-1)
	if len(in) == 0 {
		return mill.None
	}
	c.pinged = false // the peer is alive
	if c.state >= stateCloseRecvd {
		c.mc.Discard(-1) // nothing more is due: drop it
		if c.client && c.state == stateCloseRecvd && time.Now().UnixNano()-c.closeAt > int64(c.ep.cfg.closeTimeout) {
			// Input restarts the quiet timer of endTCP's wait: bound
			// it here too.
			_ = c.mc.Close()
		}
		return mill.None
	}
	if c.state == stateCloseSent && time.Now().UnixNano()-c.closeAt > int64(c.ep.cfg.closeTimeout) {
		c.mc.Discard(-1)
		c.abort(&CloseError{Code: c.closeErr.Code, Reason: c.closeErr.Reason, Err: ErrCloseTimeout})
		return mill.None
	}
	used := 0
	for used < len(in) && c.state <= stateCloseSent {
		r := &c.rd
		if !r.frame {
			h, n, err := parseHeader(in[used:])
			if err != nil {
				c.fail(StatusProtocolError, err)
				break
			}
			if n == 0 {
				break // the rest of the header is still to come
			}
			if err := c.checkHeader(&h); err != nil {
				code := StatusProtocolError
				if errors.Is(err, ErrMessageTooBig) {
					code = StatusMessageTooBig
				}
				c.fail(code, err)
				break
			}
			if h.op.isControl() {
				if int64(len(in)-used-n) < h.length {
					break // wait for the whole control frame (at most 125 bytes)
				}
				var p [125]byte
				pl := p[:h.length]
				copy(pl, in[used+n:])
				if h.masked {
					maskBytes(h.key, 0, pl)
				}
				used += n + int(h.length)
				c.control(h.op, pl)
				continue
			}
			used += n
			c.beginFrame(&h)
		}
		k := len(in) - used
		if int64(k) > r.left {
			k = int(r.left)
		}
		chunk := in[used : used+k]
		used += k
		c.payload(chunk)
		if r.left == 0 && r.frame && c.state <= stateCloseSent {
			c.endFrame()
		}
	}
	c.mc.Discard(used)
	return mill.None
}

// checkHeader judges a frame header by RFC 6455 §5 and the message
// limit. Loop goroutine.
func (c *Conn) checkHeader(h *header) error {
	r := &c.rd
	rsv := h.rsv
	if rsv&0x40 != 0 && c.compress && (h.op == OpText || h.op == OpBinary) {
		rsv &^= 0x40 // RSV1 marks a compressed message's first frame
	}
	if rsv != 0 {
		return errReserved
	}
	switch h.op {
	case OpContinuation:
		if r.msgOp == 0 {
			return errContinuation
		}
	case OpText, OpBinary:
		if r.msgOp != 0 {
			return errInterleaved
		}
	case OpClose, OpPing, OpPong:
		if !h.fin {
			return errControlFrag
		}
		if h.length > 125 {
			return errControlLong
		}
	default:
		return errOpcode
	}
	if h.masked == c.client {
		if c.client {
			return errMasked
		}
		return errUnmasked
	}
	if h.op.isControl() {
		return nil
	}
	size := int64(r.size)
	if h.op != OpContinuation {
		size = 0
	}
	limit := int64(c.ep.cfg.maxMessage)
	zip := r.zip
	if h.op != OpContinuation {
		zip = h.rsv&0x40 != 0
	}
	if c.ep.stream != nil && !zip {
		size = 0 // streamed frame by frame: the limit bounds each frame
	}
	if zip {
		limit += limit>>6 + 1024 // deflate can grow incompressible data a little
	}
	// Compared without adding: a frame length near 2^63 must not wrap.
	if h.length > limit || size > limit-h.length {
		return fmt.Errorf("%w: a frame of %d bytes after %d, over the limit of %d", ErrMessageTooBig, h.length, size, c.ep.cfg.maxMessage)
	}
	return nil
}

// beginFrame starts reading a data frame's payload. Loop goroutine.
func (c *Conn) beginFrame(h *header) {
	r := &c.rd
	if h.op != OpContinuation {
		r.msgOp, r.zip, r.size = h.op, h.rsv&0x40 != 0, 0
		r.text.reset()
	}
	r.frame, r.fin, r.left, r.key, r.pos = true, h.fin, h.length, h.key, 0
}

// payload takes the next bytes of a data frame's payload. Loop
// goroutine.
func (c *Conn) payload(p []byte) {
	r := &c.rd
	r.left -= int64(len(p))
	r.size += len(p)
	if len(p) == 0 {
		return
	}
	if r.zip {
		n := len(r.zbuf)
		r.zbuf = appendBuf(c.ep, r.zbuf, p)
		if !c.client {
			r.pos = maskCopy(r.zbuf[n:], p, r.key, r.pos)
		}
		return
	}
	n := len(r.buf)
	r.buf = appendBuf(c.ep, r.buf, p)
	if !c.client {
		r.pos = maskCopy(r.buf[n:], p, r.key, r.pos)
	}
	if r.msgOp == OpText && !r.text.feed(r.buf[n:]) {
		c.fail(StatusInvalidPayload, ErrInvalidUTF8)
	}
}

// endFrame finishes a data frame: inflates it, and delivers the message
// (or, to a StreamHandler, the frame). Loop goroutine.
func (c *Conn) endFrame() {
	r := &c.rd
	r.frame = false
	if r.zip {
		// A compressed message is inflated whole at its last frame
		// (inflate keeps the frames before it); r.buf is empty until then.
		if r.fin && r.buf == nil {
			r.buf = c.ep.bufs.Get(2*r.size + 64)[:0]
		}
		// If inflate outgrows r.buf, the old slice is left to the garbage
		// collector: the pool counts the one Get once, at the final Put.
		out, err := c.infl.inflate(r.buf, r.zbuf, r.fin, c.ep.cfg.maxMessage)
		r.buf = out
		if r.zbuf != nil {
			r.zbuf = r.zbuf[:0]
		}
		if err != nil {
			code := StatusInvalidPayload
			if errors.Is(err, ErrMessageTooBig) {
				code = StatusMessageTooBig
			}
			c.fail(code, err)
			return
		}
		if r.msgOp == OpText && !r.text.feed(r.buf) {
			c.fail(StatusInvalidPayload, ErrInvalidUTF8)
			return
		}
	}
	if r.msgOp == OpText && r.fin && !r.text.complete() {
		c.fail(StatusInvalidPayload, ErrInvalidUTF8)
		return
	}
	op, fin := r.msgOp, r.fin
	if fin {
		r.msgOp = 0
	}
	if c.state != stateOpen {
		r.buf = r.buf[:0] // closing: data is dropped
	} else if c.ep.stream != nil {
		c.onFrame(op, r.buf, fin)
		r.buf = r.buf[:0]
	} else if fin {
		c.onMessage(op, r.buf)
	}
	if fin || c.ep.stream != nil {
		r.release(c.ep)
	}
}

// control handles a complete control frame. Loop goroutine.
func (c *Conn) control(op Opcode, p []byte) {
	switch op {
	case OpPing:
		if c.state == stateOpen {
			c.writeControl(OpPong, p)
		}
	case OpPong:
		if c.ep.pong != nil && c.state == stateOpen {
			c.onPong(p)
		}
	case OpClose:
		c.peerClose(p)
	}
}

// peerClose handles the peer's close frame. Loop goroutine.
func (c *Conn) peerClose(p []byte) {
	code, reason := StatusNoStatus, ""
	switch {
	case len(p) == 1:
		c.fail(StatusProtocolError, errCloseLen)
		return
	case len(p) >= 2:
		code = StatusCode(binary.BigEndian.Uint16(p))
		if !code.validWire() {
			c.fail(StatusProtocolError, errCloseCode)
			return
		}
		if !utf8.Valid(p[2:]) {
			c.fail(StatusInvalidPayload, errCloseUTF8)
			return
		}
		reason = string(p[2:])
	}
	if c.state == stateOpen {
		// Answer with the same code (RFC 6455 §5.5.1).
		var b [2]byte
		body := b[:0]
		if code != StatusNoStatus {
			binary.BigEndian.PutUint16(b[:], uint16(code))
			body = b[:]
		}
		c.writeControl(OpClose, body)
		c.closeErr = &CloseError{Code: code, Reason: reason, Remote: true}
	}
	c.state = stateCloseRecvd
	c.rd.release(c.ep)
	c.endTCP()
}

// endTCP ends the TCP connection once the close handshake is done: a
// server closes it (lingering, so that our close frame is not lost to a
// reset), a client waits for the server to (RFC 6455 §7.1.1), at most
// the close timeout. Loop goroutine.
func (c *Conn) endTCP() {
	if c.client {
		c.closeAt = time.Now().UnixNano()
		c.mc.SetQuietFunc(c.ep.cfg.closeTimeout, keepAlive)
		return
	}
	_ = c.mc.CloseLingering()
}

// fail fails the connection (RFC 6455 §7.1.7): a close frame with code,
// unless we sent one already, then the TCP connection closes. err is
// the cause OnClose sees. Loop goroutine.
func (c *Conn) fail(code StatusCode, err error) {
	if c.state >= stateCloseRecvd {
		return
	}
	if c.state == stateOpen {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(code))
		c.writeControl(OpClose, b[:])
	} else {
		code = c.closeErr.Code // ours went out already; no other was sent
	}
	c.closeErr = &CloseError{Code: code, Remote: true, Err: err}
	c.state = stateFailed
	c.rd.release(c.ep)
	c.rd.msgOp, c.rd.frame = 0, false
	c.mc.Discard(-1)
	_ = c.mc.CloseLingering()
}

// abort closes the connection without a close frame. Loop goroutine.
func (c *Conn) abort(ce *CloseError) {
	if c.state >= stateFailed {
		return
	}
	c.closeErr = ce
	c.state = stateFailed
	c.rd.release(c.ep)
	_ = c.mc.Close()
}
