package websocket

// The conformance harness: Autobahn|Testsuite's server-side categories
// re-created from RFC 6455 and RFC 7692, against an echo server over
// real sockets. This file: sections 1 (framing), 2 (pings and pongs),
// 3 (reserved bits) and 4 (opcodes). Fixtures are in
// conformance_fixtures_test.go; further sections in conformance_*_test.go.

import (
	"fmt"
	"testing"
)

// TestConformance1Framing: text and binary messages of every length
// encoding (7-bit, 16-bit, 64-bit), sent whole, in 1-byte writes and in
// 997-byte writes, each echoed exactly (RFC 6455 §5.2).
func TestConformance1Framing(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	var cases []confCase
	for si, op := range []Opcode{OpText, OpBinary} {
		for li, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
			p := pattern(li, n)
			if op == OpBinary {
				p = repeatByte(0xfe, n)
				copy(p, []byte{0, 0xff, 0x80})
			}
			base := fmt.Sprintf("1.%d.%d", si+1, li+1)
			cases = append(cases,
				confCase{name: base, send: pieces(msg(op, p)), want: []rawFrame{echo(op, p)}},
				confCase{name: base + ".chunk997", send: pieces(msg(op, p)), chunk: 997, want: []rawFrame{echo(op, p)}})
			if n <= 128 {
				cases = append(cases, confCase{name: base + ".chunk1", send: pieces(msg(op, p)), chunk: 1, want: []rawFrame{echo(op, p)}})
			}
		}
	}
	big := pattern(8, 8<<20)       // one 8 MiB case, to keep the harness fast
	mib := repeatByte(0xfe, 1<<20) // and 1 MiB in 997-byte writes
	cases = append(cases,
		confCase{name: "1.1.8", send: pieces(msg(OpText, big)), chunk: 65536, want: []rawFrame{echo(OpText, big)}},
		confCase{name: "1.2.8", send: pieces(msg(OpBinary, mib)), chunk: 997, want: []rawFrame{echo(OpBinary, mib)}},
		// A 16-bit length that would fit in 7 bits, and a 64-bit one that
		// would fit in 16: RFC 6455 §5.2 says "minimal number of bytes
		// MUST be used", but a server is not required to reject others;
		// mill accepts them (parseHeader's doc).
		confCase{name: "1.3.1", send: pieces(concat([]byte{0x81, 0x80 | 126, 0, 3, 0, 0, 0, 0}, []byte("abc"))),
			want: []rawFrame{echo(OpText, []byte("abc"))}},
		// 64-bit length with its most significant bit set (§5.2): 1002.
		confCase{name: "1.3.2", send: pieces([]byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}),
			close: StatusProtocolError},
		// An unmasked client frame (§5.1): 1002.
		confCase{name: "1.3.3", send: pieces(frameBytes(rawFrame{fin: true, op: OpText, p: []byte("unmasked")})),
			close: StatusProtocolError},
	)
	runConf(t, addr, cases)
}

// TestConformance2PingPong: pings are answered with pongs carrying the
// same payload (§5.5.2), control frames over 125 bytes or fragmented
// fail with 1002 (§5.5), unsolicited pongs are ignored (§5.5.3).
func TestConformance2PingPong(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	p125 := pattern(2, 125)
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	tenPings := make([][]byte, 10)
	tenPongs := make([]rawFrame, 10)
	for i := range tenPings {
		p := []byte(fmt.Sprintf("ping %d", i))
		tenPings[i] = msg(OpPing, p)
		tenPongs[i] = echo(OpPong, p)
	}
	cases := []confCase{
		{name: "2.1", send: pieces(msg(OpPing, nil)), want: []rawFrame{echo(OpPong, nil)}},
		{name: "2.2", send: pieces(msg(OpPing, []byte("Hello, world!"))), want: []rawFrame{echo(OpPong, []byte("Hello, world!"))}},
		{name: "2.3", send: pieces(msg(OpPing, bin)), want: []rawFrame{echo(OpPong, bin)}},
		{name: "2.4", send: pieces(msg(OpPing, p125)), want: []rawFrame{echo(OpPong, p125)}},
		{name: "2.5", send: pieces(msg(OpPing, pattern(3, 126))), close: StatusProtocolError},
		{name: "2.5.1", send: pieces(head(true, OpPing, 126)), close: StatusProtocolError}, // judged on its header alone
		{name: "2.6", send: pieces(msg(OpPing, p125)), chunk: 1, want: []rawFrame{echo(OpPong, p125)}},
		{name: "2.7", send: pieces(msg(OpPong, nil), msg(OpText, []byte("after pong"))),
			want: []rawFrame{echo(OpText, []byte("after pong"))}},
		{name: "2.8", send: pieces(msg(OpPong, []byte("unsolicited")), msg(OpText, []byte("x"))),
			want: []rawFrame{echo(OpText, []byte("x"))}},
		{name: "2.9", send: pieces(msg(OpPong, []byte("unsolicited")), msg(OpPing, []byte("solicited"))),
			want: []rawFrame{echo(OpPong, []byte("solicited"))}},
		{name: "2.10", send: [][]byte{concat(tenPings...)}, want: tenPongs},
		{name: "2.11", send: tenPings, chunk: 1, want: tenPongs},
		{name: "2.12", send: pieces(frag(false, OpPing, []byte("a")), frag(true, OpContinuation, []byte("b"))),
			close: StatusProtocolError},
		{name: "2.13", send: pieces(msg(OpPong, pattern(4, 126))), close: StatusProtocolError},
	}
	runConf(t, addr, cases)
}

// TestConformance3ReservedBits: a frame with RSV1, RSV2 or RSV3 set and
// no extension defining it fails the connection with 1002 (§5.2); a
// valid message before it is still echoed, a ping after it not
// answered.
func TestConformance3ReservedBits(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	hello := []byte("Hello, world!")
	cases := []confCase{
		{name: "3.1", send: pieces(rsvMsg(0x20, OpText, hello)), close: StatusProtocolError},
		{name: "3.2", send: pieces(msg(OpText, hello), rsvMsg(0x40, OpText, hello), msg(OpPing, nil)),
			want: []rawFrame{echo(OpText, hello)}, close: StatusProtocolError},
		{name: "3.3", send: pieces(msg(OpText, hello), rsvMsg(0x60, OpText, hello), msg(OpPing, nil)),
			want: []rawFrame{echo(OpText, hello)}, close: StatusProtocolError, chunk: 1},
		{name: "3.4", send: pieces(msg(OpText, hello), rsvMsg(0x10, OpText, hello), msg(OpPing, nil)),
			want: []rawFrame{echo(OpText, hello)}, close: StatusProtocolError},
		{name: "3.5", send: pieces(rsvMsg(0x50, OpBinary, []byte{0, 1, 2, 0xff})), close: StatusProtocolError},
		{name: "3.6", send: pieces(rsvMsg(0x60, OpPing, hello)), close: StatusProtocolError},
		{name: "3.7", send: pieces(rsvMsg(0x70, OpClose, closePayload(StatusNormal, ""))), close: StatusProtocolError},
		{name: "3.8", send: pieces(rsvMsg(0x40, OpBinary, []byte{1})), close: StatusProtocolError},
		{name: "3.9", send: pieces(rsvMsg(0x40, OpPing, nil)), close: StatusProtocolError},
		{name: "3.10", send: pieces(rsvMsg(0x40, OpPong, nil)), close: StatusProtocolError},
		// RSV on a continuation frame of an uncompressed message.
		{name: "3.11", send: pieces(frag(false, OpText, []byte("ab")), frameBytes(rawFrame{fin: true, rsv: 0x40, op: OpContinuation, masked: true, p: []byte("cd")})),
			close: StatusProtocolError},
		// Judged on the header: no payload needed.
		{name: "3.12", send: pieces(appendHeader(nil, true, 0x20, OpBinary, 1000, true, [4]byte{1, 2, 3, 4})), close: StatusProtocolError},
	}
	runConf(t, addr, cases)
}

// TestConformance4Opcodes: reserved opcodes, data (3–7) and control
// (0xB–0xF), fail the connection with 1002 (§5.2), after a valid
// message is echoed.
func TestConformance4Opcodes(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	hello := []byte("Hello, world!")
	var cases []confCase
	for i, op := range []Opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		sec := 1
		if op >= 0xB {
			sec = 2
		}
		name := fmt.Sprintf("4.%d.%d", sec, i%5+1)
		cases = append(cases,
			confCase{name: name, send: pieces(msg(op, nil)), close: StatusProtocolError},
			confCase{name: name + ".payload", send: pieces(msg(OpText, hello), msg(op, []byte("reserved")), msg(OpPing, nil)),
				want: []rawFrame{echo(OpText, hello)}, close: StatusProtocolError},
			confCase{name: name + ".chunk1", send: pieces(msg(OpText, hello), msg(op, []byte("reserved")), msg(OpPing, nil)),
				chunk: 1, want: []rawFrame{echo(OpText, hello)}, close: StatusProtocolError},
		)
	}
	runConf(t, addr, cases)
}
