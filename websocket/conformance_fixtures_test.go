package websocket

// Fixtures of the conformance harness (conformance_*_test.go): an echo
// server, frame builders, and a runner for table-driven cases that send
// crafted bytes over a real socket and check, byte for byte, what the
// server sends back. Written from RFC 6455 and RFC 7692; the case
// numbering follows Autobahn|Testsuite's sections where that makes sense.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// confEcho is the server handler every section drives: each message goes
// back as it came, same opcode, as one frame.
type confEcho struct{}

// OnOpen does nothing.
func (confEcho) OnOpen(*Conn) {}

// OnMessage echoes; a failed write means the connection is closing.
func (confEcho) OnMessage(c *Conn, op Opcode, p []byte) { _ = c.WriteMessage(op, p) }

// OnClose does nothing.
func (confEcho) OnClose(*Conn, error) {}

// confServe starts an echo server with opts for one section's cases; it
// stops when the section's test (and all its parallel cases) ends.
func confServe(t *testing.T, opts ...Option) string {
	t.Helper()
	_, addr := serve(t, confEcho{}, opts)
	return addr
}

// confCase is one case: bytes to send, and what the server must answer.
type confCase struct {
	name   string
	header string        // extra upgrade request fields (each ending in CRLF)
	send   [][]byte      // pieces written in order, one Write each (but see chunk)
	chunk  int           // > 0: each piece goes in Writes of at most chunk bytes
	delay  time.Duration // a pause between pieces, so that the server sees each alone
	want   []rawFrame    // frames the server must send first, in order
	// close is the code of the close frame the server must then send,
	// followed by the end of the TCP stream, with no other frame before
	// it. 0: no close is expected; the harness then closes with 1000 and
	// expects 1000 back. For a failure case, send holds only the bytes
	// up to the offending one (fail fast: the close must come without
	// the rest of the message).
	close StatusCode
	// closeEmpty: the server's close frame must have no payload (close
	// is then ignored).
	closeEmpty bool
}

// Frame builders; client frames are masked.

// msg is a complete masked client frame.
func msg(op Opcode, p []byte) []byte {
	return frameBytes(rawFrame{fin: true, op: op, masked: true, p: p})
}

// frag is one masked fragment: final tells whether it ends its message.
func frag(final bool, op Opcode, p []byte) []byte {
	return frameBytes(rawFrame{fin: final, op: op, masked: true, p: p})
}

// rsvMsg is a complete masked frame with reserved bits rsv set.
func rsvMsg(rsv byte, op Opcode, p []byte) []byte {
	return frameBytes(rawFrame{fin: true, rsv: rsv, op: op, masked: true, p: p})
}

// head is only the header of a masked frame announcing length bytes;
// body masks the payload bytes from offset off on, with the same key.
func head(final bool, op Opcode, length int) []byte {
	return appendHeader(nil, final, 0, op, length, true, [4]byte{0x37, 0xfa, 0x21, 0x3d})
}

// body masks p as the payload bytes [off, off+len(p)) of a frame made
// by head.
func body(off int, p []byte) []byte {
	b := append([]byte(nil), p...)
	maskBytes([4]byte{0x37, 0xfa, 0x21, 0x3d}, off&3, b)
	return b
}

// echo is the frame the server must send back for a message.
func echo(op Opcode, p []byte) rawFrame { return rawFrame{fin: true, op: op, p: p} }

// pieces returns its arguments as a slice.
func pieces(p ...[]byte) [][]byte { return p }

// concat joins byte slices.
func concat(p ...[]byte) []byte {
	var b []byte
	for _, q := range p {
		b = append(b, q...)
	}
	return b
}

// repeatByte is n copies of c.
func repeatByte(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// pattern is n bytes of printable ASCII depending on seed and position,
// so that a misplaced or reordered byte shows.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('!' + (i*7+seed*13)%94)
	}
	return b
}

// runConf runs each case as a parallel subtest on its own connection to
// addr.
func runConf(t *testing.T, addr string, cases []confCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("two cases named %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			confRun(t, addr, tc)
		})
	}
}

// writePieces writes the case's pieces to nc. It runs on its own
// goroutine so that the server's echoes are read while large messages
// are still being sent.
func writePieces(nc net.Conn, tc confCase) error {
	for i, p := range tc.send {
		if i > 0 && tc.delay > 0 {
			time.Sleep(tc.delay)
		}
		for len(p) > 0 {
			n := len(p)
			if tc.chunk > 0 && n > tc.chunk {
				n = tc.chunk
			}
			if _, err := nc.Write(p[:n]); err != nil {
				return fmt.Errorf("piece %d: %w", i, err)
			}
			p = p[n:]
		}
	}
	return nil
}

// confRun runs one case.
func confRun(t *testing.T, addr string, tc confCase) {
	r, _ := upgrade(t, addr, tc.header)
	done := make(chan error, 1)
	go func() { done <- writePieces(r.nc, tc) }()
	defer func() {
		r.nc.Close()
		<-done
	}()
	for i, w := range tc.want {
		f, err := confRead(r)
		if err != nil {
			t.Fatalf("frame %d of %d (%v %q): %v", i+1, len(tc.want), w.op, trunc(w.p), err)
		}
		if f.op == OpClose {
			t.Fatalf("closed with %s before frame %d of %d (%v %q)", closeDesc(f.p), i+1, len(tc.want), w.op, trunc(w.p))
		}
		checkFrame(t, i, f, w)
	}
	code := tc.close
	if code == 0 && !tc.closeEmpty {
		if err := <-done; err != nil {
			t.Fatalf("write: %v", err)
		}
		done <- nil
		r.write(msg(OpClose, closePayload(StatusNormal, "")))
		code = StatusNormal
	}
	f, err := confRead(r)
	switch {
	case err != nil:
		t.Fatalf("waiting for a close frame (%v): %v", code, err)
	case f.op != OpClose:
		t.Fatalf("a %v frame %q (fin=%v rsv=%#x), want a close frame (%v)", f.op, trunc(f.p), f.fin, f.rsv, code)
	case f.masked || !f.fin || f.rsv != 0:
		t.Fatalf("close frame masked=%v fin=%v rsv=%#x", f.masked, f.fin, f.rsv)
	case tc.closeEmpty && len(f.p) != 0:
		t.Fatalf("close frame %s, want one without payload", closeDesc(f.p))
	case !tc.closeEmpty && (len(f.p) < 2 || StatusCode(binary.BigEndian.Uint16(f.p)) != code):
		t.Fatalf("close frame %s, want %v", closeDesc(f.p), code)
	case len(f.p) > 2 && !utf8.Valid(f.p[2:]):
		t.Fatalf("close reason %q is not UTF-8", f.p[2:])
	}
	// The server closes the TCP connection after its close frame (RFC
	// 6455 §7.1.1), and sends nothing more.
	if g, err := confRead(r); err == nil {
		t.Fatalf("a %v frame %q after the close frame", g.op, trunc(g.p))
	} else if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("after the close frame: %v, want the end of the stream", err)
	}
}

// confRead reads one frame from the server like raw.read, and also
// checks that its length is in the shortest encoding, as RFC 6455 §5.2
// requires of the sender ("the minimal number of bytes MUST be used").
func confRead(r *raw) (rawFrame, error) {
	if b, err := r.br.Peek(2); err == nil {
		switch b[1] & 0x7f {
		case 126:
			if h, err := r.br.Peek(4); err == nil && binary.BigEndian.Uint16(h[2:]) < 126 {
				return rawFrame{}, fmt.Errorf("length %d in the 16-bit encoding", binary.BigEndian.Uint16(h[2:]))
			}
		case 127:
			if h, err := r.br.Peek(10); err == nil && binary.BigEndian.Uint64(h[2:]) <= 0xffff {
				return rawFrame{}, fmt.Errorf("length %d in the 64-bit encoding", binary.BigEndian.Uint64(h[2:]))
			}
		}
	}
	return r.read()
}

// checkFrame compares a frame the server sent with the one expected:
// final, unmasked, same reserved bits, opcode and payload.
func checkFrame(t testing.TB, i int, got, want rawFrame) {
	t.Helper()
	if got.op != want.op || !got.fin || got.masked || got.rsv != want.rsv || string(got.p) != string(want.p) {
		t.Fatalf("frame %d: got %v fin=%v rsv=%#x masked=%v %q (%d bytes), want %v fin=true rsv=%#x %q (%d bytes)",
			i+1, got.op, got.fin, got.rsv, got.masked, trunc(got.p), len(got.p), want.op, want.rsv, trunc(want.p), len(want.p))
	}
}

// closeDesc describes a close frame's payload.
func closeDesc(p []byte) string {
	if len(p) < 2 {
		return fmt.Sprintf("payload %q", p)
	}
	return fmt.Sprintf("%v %q", StatusCode(binary.BigEndian.Uint16(p)), p[2:])
}

// invalidAt is the length of the shortest prefix of b that no valid
// UTF-8 text begins with (so a strict validator that reads b byte by
// byte must see the error once it has that many bytes), or len(b)+1 if
// b is a prefix of valid text (then only its end can make it invalid).
func invalidAt(b []byte) int {
	for k := 1; k <= len(b); k++ {
		if !utf8PrefixOK(b[:k]) {
			return k
		}
	}
	return len(b) + 1
}

// utf8PrefixOK reports whether some valid UTF-8 text begins with b.
func utf8PrefixOK(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			b = b[n:]
			continue
		}
		if utf8.FullRune(b) {
			return false // a real error, not a cut
		}
		// b is a cut code point: check what is there.
		lo, hi := byte(0x80), byte(0xBF)
		switch c := b[0]; {
		case c >= 0xC2 && c <= 0xDF, c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF, c >= 0xF1 && c <= 0xF3:
		case c == 0xE0:
			lo = 0xA0
		case c == 0xED:
			hi = 0x9F
		case c == 0xF0:
			lo = 0x90
		case c == 0xF4:
			hi = 0x8F
		default:
			return false
		}
		if len(b) > 1 && (b[1] < lo || b[1] > hi) {
			return false
		}
		for k := 2; k < len(b); k++ {
			if b[k] < 0x80 || b[k] > 0xBF {
				return false
			}
		}
		return true
	}
	return true
}
