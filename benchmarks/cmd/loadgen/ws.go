package main

// WebSocket load (-ws): every connection does the RFC 6455 opening
// handshake itself over its net.Conn, then speaks a minimal client side of
// the protocol: it sends single-frame binary messages (FIN set, masked with
// one fixed key, which the RFC allows for a client that does not face a
// proxy) and accepts only single-frame, unmasked data frames back. A
// control frame from the server (a close, a ping) or a fragmented message
// is an error: the echo servers under test send neither.
//
// Load mode: one goroutine per connection writes -pipeline messages,
// reads back as many echoes, verifies each (the payloads carry the same
// connection id, sequence number and body as the TCP messages) and times
// it, as runLoad does for plain TCP. Idle mode: each connection
// handshakes and echoes one message, then all are held. Broadcast mode:
// see ws_linux.go.

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsMaskKey is the masking key of every client frame.
var wsMaskKey = [4]byte{0x5a, 0xc3, 0x17, 0x9e}

// Opcodes the client sends or expects.
const (
	wsOpText   = 0x1
	wsOpBinary = 0x2
)

// wsKey is connection i's Sec-WebSocket-Key: 16 bytes, base64, unique per
// connection (randomness buys nothing in a benchmark).
func wsKey(i int) string {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:8], uint64(i)*0x9E3779B97F4A7C15+1)
	binary.LittleEndian.PutUint64(k[8:], uint64(i)^0xC2B2AE3D27D4EB4F)
	return base64.StdEncoding.EncodeToString(k[:])
}

// wsAccept is the Sec-WebSocket-Accept a server must answer key with.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsHandshake sends connection i's upgrade request for path to c and
// checks the server's 101 answer. It reads exactly the response head:
// a server that sends anything after it before being spoken to is an
// error, so nothing is lost to buffering.
func wsHandshake(c net.Conn, host, path string, i int, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	key := wsKey(i)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("handshake write: %w", err)
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			return errors.New("handshake: response head over 1 KiB")
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 {
			if err := wsCheckResponse(buf[:end], key); err != nil {
				return err
			}
			if end+4 != len(buf) {
				return errors.New("handshake: server sent data after its 101 response")
			}
			return c.SetDeadline(time.Time{})
		}
		if err != nil {
			return fmt.Errorf("handshake read: %w", err)
		}
	}
}

// wsCheckResponse checks a response head (without the final CRLF CRLF).
func wsCheckResponse(head []byte, key string) error {
	lines := bytes.Split(head, []byte("\r\n"))
	if !bytes.HasPrefix(lines[0], []byte("HTTP/1.1 101")) {
		return fmt.Errorf("handshake: status line %q", lines[0])
	}
	var upgrade, accept bool
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(bytes.TrimSpace(k), []byte("Upgrade")):
			upgrade = bytes.EqualFold(v, []byte("websocket"))
		case bytes.EqualFold(bytes.TrimSpace(k), []byte("Sec-WebSocket-Accept")):
			if string(v) != wsAccept(key) {
				return fmt.Errorf("handshake: Sec-WebSocket-Accept %q, want %q", v, wsAccept(key))
			}
			accept = true
		case bytes.EqualFold(bytes.TrimSpace(k), []byte("Sec-WebSocket-Extensions")):
			return fmt.Errorf("handshake: server chose extensions %q that were not offered", v)
		}
	}
	if !upgrade || !accept {
		return errors.New("handshake: 101 without Upgrade: websocket or Sec-WebSocket-Accept")
	}
	return nil
}

// wsAppendFrame appends one masked client frame (FIN, opcode op) carrying
// payload to dst.
func wsAppendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, wsMaskKey[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	wsMask(dst[start:])
	return dst
}

// wsMask XORs p with the fixed key (p starting at key offset 0).
func wsMask(p []byte) {
	k := uint64(binary.LittleEndian.Uint32(wsMaskKey[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= wsMaskKey[i&3]
	}
}

// wsParseFrame parses one server frame at the start of b. It returns the
// opcode, the payload (aliasing b), the frame's total length, or n == 0
// when b holds less than a whole frame. Masked, fragmented and control
// frames are errors.
func wsParseFrame(b []byte) (op byte, payload []byte, n int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, nil
	}
	op = b[0] & 0x0f
	if b[0]&0x70 != 0 {
		return 0, nil, 0, fmt.Errorf("ws: reserved bits set in frame header %#x", b[0])
	}
	if b[1]&0x80 != 0 {
		return 0, nil, 0, errors.New("ws: masked frame from the server")
	}
	hl, plen := 2, uint64(b[1]&0x7f)
	switch plen {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, nil
		}
		hl, plen = 4, uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, nil
		}
		hl, plen = 10, binary.BigEndian.Uint64(b[2:])
		if plen > 1<<30 {
			return 0, nil, 0, fmt.Errorf("ws: frame length %d", plen)
		}
	}
	if op >= 0x8 {
		if op == 0x8 && len(b) >= hl+2 && plen >= 2 {
			return 0, nil, 0, fmt.Errorf("ws: server closed with status %d", binary.BigEndian.Uint16(b[hl:]))
		}
		return 0, nil, 0, fmt.Errorf("ws: unexpected control frame opcode %#x", op)
	}
	if b[0]&0x80 == 0 || op == 0 {
		return 0, nil, 0, errors.New("ws: fragmented message from the server")
	}
	total := hl + int(plen)
	if len(b) < total {
		return 0, nil, 0, nil
	}
	return op, b[hl:total], total, nil
}

// wsReader reads whole server frames from a blocking connection.
type wsReader struct {
	c    net.Conn
	buf  []byte
	r, w int
}

// next returns the next frame's opcode and payload; the payload stays
// valid until the next call.
func (r *wsReader) next() (byte, []byte, error) {
	for {
		op, p, n, err := wsParseFrame(r.buf[r.r:r.w])
		if err != nil {
			return 0, nil, err
		}
		if n > 0 {
			r.r += n
			return op, p, nil
		}
		if r.r > 0 { // move the partial frame to the front
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if r.w == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := r.c.Read(r.buf[r.w:])
		r.w += m
		if err != nil && m == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
}

// wsSetup is the dial hook of the WebSocket modes: handshake, then one
// verified echo of a size-byte message, so the server has surely opened
// the connection (and registered it for broadcasts) before the run.
func wsSetup(o options) func(i int, c net.Conn) error {
	host := o.addr
	return func(i int, c net.Conn) error {
		if err := wsHandshake(c, host, o.wsPath, i, o.ioTimeout); err != nil {
			return err
		}
		if err := c.SetDeadline(time.Now().Add(o.ioTimeout)); err != nil {
			return err
		}
		p := newPattern(uint32(i), o.size)
		msg, scratch := make([]byte, o.size), make([]byte, o.size)
		p.fill(msg, 0)
		if _, err := c.Write(wsAppendFrame(nil, wsOpBinary, msg)); err != nil {
			return err
		}
		r := wsReader{c: c, buf: make([]byte, o.size+16)}
		op, got, err := r.next()
		if err != nil {
			return fmt.Errorf("conn %d first echo: %w", i, err)
		}
		if op != wsOpBinary {
			return fmt.Errorf("conn %d: echo opcode %d, want binary", i, op)
		}
		if err := p.verify(got, scratch, 0); err != nil {
			return err
		}
		if r.r != r.w {
			return fmt.Errorf("conn %d: unexpected data after the first echo", i)
		}
		return c.SetDeadline(time.Time{})
	}
}

// wsWorker is one connection of the WebSocket load mode.
type wsWorker struct {
	id      int
	conn    net.Conn
	rd      wsReader
	pat     *pattern
	size    int
	pipe    int
	msg     []byte // one payload before masking
	wbuf    []byte // pipe frames
	scratch []byte
	hist    histogram
	msgs    uint64
}

// run loops write-batch / read-verify until end, recording the latencies
// of echoes completed inside [start, end). seq 0 was the setup's echo.
func (w *wsWorker) run(start, end time.Time, ioTimeout time.Duration) error {
	if err := w.conn.SetDeadline(end.Add(ioTimeout)); err != nil {
		return err
	}
	seq := uint64(1)
	for time.Now().Before(end) {
		w.wbuf = w.wbuf[:0]
		for i := 0; i < w.pipe; i++ {
			w.pat.fill(w.msg, seq+uint64(i))
			w.wbuf = wsAppendFrame(w.wbuf, wsOpBinary, w.msg)
		}
		t0 := time.Now()
		if _, err := w.conn.Write(w.wbuf); err != nil {
			return fmt.Errorf("conn %d write: %w", w.id, err)
		}
		for i := 0; i < w.pipe; i++ {
			op, p, err := w.rd.next()
			if err != nil {
				return fmt.Errorf("conn %d read (echo %d of %d): %w", w.id, i+1, w.pipe, err)
			}
			t := time.Now()
			if op != wsOpBinary {
				return fmt.Errorf("conn %d: echo opcode %d, want binary", w.id, op)
			}
			if err := w.pat.verify(p, w.scratch, seq+uint64(i)); err != nil {
				return err
			}
			if !t.Before(start) && t.Before(end) {
				w.hist.record(uint64(t.Sub(t0)))
				w.msgs++
			}
		}
		seq += uint64(w.pipe)
	}
	return nil
}

// runWSLoad is the WebSocket echo load: see runLoad.
func runWSLoad(o options) Result {
	res := Result{Mode: "ws-load", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: o.pipeline}
	var errs errorLog
	cfg := o.dial
	cfg.setup = wsSetup(o)
	conns, retries, err := dialAll(cfg, o.conns)
	res.DialRetries = retries
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	res.Established = len(conns)
	frameMax := o.size + 14
	workers := make([]*wsWorker, len(conns))
	for i, c := range conns {
		workers[i] = &wsWorker{
			id: i, conn: c, rd: wsReader{c: c, buf: make([]byte, max(4096, 2*frameMax))},
			pat: newPattern(uint32(i), o.size), size: o.size, pipe: o.pipeline,
			msg: make([]byte, o.size), wbuf: make([]byte, 0, frameMax*o.pipeline), scratch: make([]byte, o.size),
		}
	}
	runWindow(workers, o, &errs)
	closeAllReset(conns)
	var h histogram
	for _, w := range workers {
		h.merge(&w.hist)
		res.Messages += w.msgs
	}
	fillRates(&res, &h, o.duration.Seconds(), o.size)
	errs.fill(&res)
	return res
}

// closeAllReset closes conns with a reset (SO_LINGER 0) instead of a FIN,
// so that no TIME_WAIT is left on the client's (source-bound) ports: a
// benchmark opens 10 000 connections per run, run after run.
func closeAllReset(conns []net.Conn) {
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	closeAll(conns)
}

// fillRates sets the duration, rates and latency summary of res.
func fillRates(res *Result, h *histogram, secs float64, size int) {
	res.DurationSec = secs
	res.MsgsPerSec = float64(res.Messages) / secs
	res.MBPerSec = float64(res.Messages) * float64(size) / secs / 1e6
	res.Latency = h.summary()
}

// summary is the Latency of h.
func (h *histogram) summary() Latency {
	return Latency{P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: h.max, Mean: h.mean()}
}

// runWSIdle opens o.conns WebSocket connections (handshake and one echo
// each) and holds them until a signal or -duration: see runIdle.
func runWSIdle(o options) Result {
	o.dial.setup = wsSetup(o)
	res := runIdle(o)
	res.Mode = "ws-idle"
	return res
}

// wsTriggerPayload is broadcast k's trigger: "broadcast <k> " padded with
// '.' to size bytes (at least the prefix and number).
func wsTriggerPayload(k uint64, size int) []byte {
	p := strconv.AppendUint([]byte("broadcast "), k, 10)
	p = append(p, ' ')
	for len(p) < size {
		p = append(p, '.')
	}
	return p
}
