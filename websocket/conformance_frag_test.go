package websocket

// Conformance sections 5 (fragmentation) and 10 (miscellaneous: the
// server reassembles messages however the client fragments them).

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestConformance5Fragmentation: fragmented messages are reassembled
// (§5.4), control frames may come between fragments and are answered
// at once (pongs before the message's echo), continuation frames out of
// place and new messages inside one fail with 1002.
func TestConformance5Fragmentation(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	fragment := []byte("fragment1fragment2")
	oneByte := func(op Opcode, p []byte) [][]byte {
		var out [][]byte
		for i := range p {
			o := OpContinuation
			if i == 0 {
				o = op
			}
			out = append(out, frag(i == len(p)-1, o, p[i:i+1]))
		}
		return out
	}
	cases := []confCase{
		// A fragmented ping: 1002 (§5.5).
		{name: "5.1", send: pieces(frag(false, OpPing, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2"))), close: StatusProtocolError},
		{name: "5.2", send: pieces(frag(false, OpPong, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2"))), close: StatusProtocolError},
		{name: "5.3", send: pieces(frag(false, OpText, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2"))),
			want: []rawFrame{echo(OpText, fragment)}},
		{name: "5.4", send: pieces(frag(false, OpText, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2"))),
			chunk: 1, want: []rawFrame{echo(OpText, fragment)}},
		{name: "5.5", send: pieces(frag(false, OpText, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2"))),
			delay: 20 * time.Millisecond, want: []rawFrame{echo(OpText, fragment)}},
		// A ping between the fragments: its pong comes first.
		{name: "5.6", send: pieces(frag(false, OpText, []byte("fragment1")), msg(OpPing, []byte("ping")), frag(true, OpContinuation, []byte("fragment2"))),
			want: []rawFrame{echo(OpPong, []byte("ping")), echo(OpText, fragment)}},
		{name: "5.7", send: pieces(frag(false, OpText, []byte("fragment1")), msg(OpPing, []byte("ping")), frag(true, OpContinuation, []byte("fragment2"))),
			chunk: 1, want: []rawFrame{echo(OpPong, []byte("ping")), echo(OpText, fragment)}},
		{name: "5.8", send: pieces(frag(false, OpText, []byte("fragment1")), msg(OpPing, []byte("ping")), frag(true, OpContinuation, []byte("fragment2"))),
			delay: 20 * time.Millisecond, want: []rawFrame{echo(OpPong, []byte("ping")), echo(OpText, fragment)}},
		// Continuation frames with no message begun: 1002.
		{name: "5.9", send: pieces(frag(true, OpContinuation, []byte("non-continuation payload")), msg(OpText, []byte("Hello, world!"))), close: StatusProtocolError},
		{name: "5.10", send: pieces(frag(true, OpContinuation, []byte("non-continuation payload")), msg(OpText, []byte("Hello, world!"))), chunk: 1, close: StatusProtocolError},
		{name: "5.11", send: pieces(frag(true, OpContinuation, []byte("non-continuation payload")), msg(OpText, []byte("Hello, world!"))), delay: 20 * time.Millisecond, close: StatusProtocolError},
		{name: "5.12", send: pieces(frag(false, OpContinuation, []byte("non-continuation payload")), frag(true, OpContinuation, []byte("x"))), close: StatusProtocolError},
		{name: "5.13", send: pieces(frag(false, OpContinuation, []byte("non-continuation payload")), frag(true, OpContinuation, []byte("x"))), chunk: 1, close: StatusProtocolError},
		{name: "5.14", send: pieces(frag(false, OpContinuation, []byte("non-continuation payload"))), delay: 20 * time.Millisecond, close: StatusProtocolError},
		// A complete message, then a continuation: 1002 after the echo.
		{name: "5.15", send: pieces(frag(false, OpText, []byte("fragment1")), frag(true, OpContinuation, []byte("fragment2")), frag(false, OpContinuation, []byte("fragment3")), frag(true, OpText, []byte("fragment4"))),
			want: []rawFrame{echo(OpText, fragment)}, close: StatusProtocolError},
		// A new message before the last one ended: 1002.
		{name: "5.16", send: pieces(frag(false, OpText, []byte("fragment1")), frag(true, OpText, []byte("fragment2"))), close: StatusProtocolError},
		{name: "5.17", send: pieces(frag(false, OpText, []byte("fragment1")), frag(false, OpBinary, []byte("fragment2"))), close: StatusProtocolError},
		{name: "5.18", send: pieces(frag(false, OpBinary, []byte("fragment1")), frag(true, OpText, []byte("fragment2"))), chunk: 1, close: StatusProtocolError},
		// Pings between many fragments, with pauses.
		{name: "5.19", send: pieces(frag(false, OpText, []byte("frag1")), frag(false, OpContinuation, []byte("frag2")), msg(OpPing, []byte("pongme 1!")),
			frag(false, OpContinuation, []byte("frag3")), frag(false, OpContinuation, []byte("frag4")), msg(OpPing, []byte("pongme 2!")), frag(true, OpContinuation, []byte("frag5"))),
			delay: 10 * time.Millisecond,
			want:  []rawFrame{echo(OpPong, []byte("pongme 1!")), echo(OpPong, []byte("pongme 2!")), echo(OpText, []byte("frag1frag2frag3frag4frag5"))}},
		{name: "5.20", send: pieces(frag(false, OpText, []byte("frag1")), frag(false, OpContinuation, []byte("frag2")), msg(OpPing, []byte("pongme 1!")),
			frag(false, OpContinuation, []byte("frag3")), frag(false, OpContinuation, []byte("frag4")), msg(OpPing, []byte("pongme 2!")), frag(true, OpContinuation, []byte("frag5"))),
			chunk: 1,
			want:  []rawFrame{echo(OpPong, []byte("pongme 1!")), echo(OpPong, []byte("pongme 2!")), echo(OpText, []byte("frag1frag2frag3frag4frag5"))}},
		// Empty fragments.
		{name: "5.21", send: pieces(frag(false, OpText, nil), frag(false, OpContinuation, nil), frag(true, OpContinuation, nil)), want: []rawFrame{echo(OpText, nil)}},
		{name: "5.22", send: pieces(frag(false, OpBinary, nil), frag(false, OpContinuation, []byte{1, 2}), frag(false, OpContinuation, nil), frag(true, OpContinuation, nil)),
			want: []rawFrame{echo(OpBinary, []byte{1, 2})}},
		{name: "5.23", send: oneByte(OpText, []byte("Hello, world! κόσμε")), want: []rawFrame{echo(OpText, []byte("Hello, world! κόσμε"))}},
		{name: "5.24", send: oneByte(OpBinary, []byte{0, 0xff, 1, 0xfe}), delay: 5 * time.Millisecond, want: []rawFrame{echo(OpBinary, []byte{0, 0xff, 1, 0xfe})}},
		// A close frame inside a fragmented message ends it: the close is
		// answered, the unfinished message is not echoed.
		{name: "5.25", send: pieces(frag(false, OpText, []byte("fragment1")), msg(OpClose, closePayload(StatusNormal, ""))), close: StatusNormal},
		// A pong between fragments is ignored.
		{name: "5.26", send: pieces(frag(false, OpBinary, []byte("a")), msg(OpPong, []byte("p")), frag(true, OpContinuation, []byte("b"))),
			want: []rawFrame{echo(OpBinary, []byte("ab"))}},
	}
	runConf(t, addr, cases)
}

// TestConformance10Reassembly: mill sends every message as one frame,
// so Autobahn's auto-fragmentation section does not apply to it; this
// checks the other side instead: messages cut into fragments of random
// sizes (empty ones included), with pings between them, sent in writes
// that ignore frame boundaries, come back whole.
func TestConformance10Reassembly(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	rng := rand.New(rand.NewPCG(10, 6455))
	var cases []confCase
	for i, n := range []int{1, 100, 4096, 65536, 300000} {
		for _, op := range []Opcode{OpText, OpBinary} {
			p := pattern(i, n)
			var frames []byte
			var want []rawFrame
			for off, k := 0, 0; off < len(p) || k == 0; k++ {
				m := rng.IntN(min(len(p)-off, 1+len(p)/4) + 1)
				if rng.IntN(5) == 0 {
					m = 0
				}
				o := OpContinuation
				if k == 0 {
					o = op
				}
				frames = append(frames, frag(off+m == len(p), o, p[off:off+m])...)
				off += m
				if off < len(p) && rng.IntN(3) == 0 {
					ping := []byte(fmt.Sprintf("ping %d", k))
					frames = append(frames, msg(OpPing, ping)...)
					want = append(want, echo(OpPong, ping))
				}
			}
			want = append(want, echo(op, p))
			// Writes of random sizes, cutting through headers and payloads.
			var writes [][]byte
			for rest := frames; len(rest) > 0; {
				m := min(len(rest), 1+rng.IntN(1500))
				writes = append(writes, rest[:m])
				rest = rest[m:]
			}
			name := fmt.Sprintf("10.1.%d.%v", i+1, op)
			cases = append(cases, confCase{name: name, send: writes, want: want})
		}
	}
	runConf(t, addr, cases)
}
