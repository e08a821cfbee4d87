package websocket

// Conformance section 9: limits and volume: many large messages, large
// messages in many frames, and the message size limit.

import (
	"bufio"
	"fmt"
	"testing"
	"time"
)

// TestConformance9Volume: many messages, large messages, and messages
// cut into small frames, written while the echoes are read (as a real
// peer would), every echo checked byte for byte and in order. Under the
// race detector the counts of 100 and more are divided by
// confVolumeDiv.
func TestConformance9Volume(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	type volCase struct {
		name  string
		op    Opcode
		count int
		size  int
		frame int // fragment size; 0: one frame per message
	}
	cases := []volCase{
		{"9.1.1", OpText, 1000, 64 << 10, 0},
		{"9.1.2", OpBinary, 1000, 64 << 10, 0},
		{"9.2.1", OpText, 100, 1 << 20, 0},
		{"9.2.2", OpBinary, 100, 1 << 20, 0},
		{"9.3.1", OpText, 10, 1 << 20, 64},
		{"9.3.2", OpText, 10, 1 << 20, 4 << 10},
		{"9.3.3", OpText, 10, 1 << 20, 64 << 10},
		{"9.4.1", OpBinary, 10, 1 << 20, 64},
		{"9.4.2", OpBinary, 10, 1 << 20, 4 << 10},
		{"9.4.3", OpBinary, 10, 1 << 20, 64 << 10},
		{"9.5.1", OpBinary, 1000, 64 << 10, 4 << 10},
	}
	for _, vc := range cases {
		t.Run(vc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := upgrade(t, addr, "")
			r.nc.SetDeadline(time.Now().Add(3 * waitBound))
			if vc.count >= 100 {
				vc.count /= confVolumeDiv
			}
			base := pattern(vc.count, vc.size)
			// payload i is base with its first bytes naming i.
			payload := func(i int, b []byte) []byte {
				b = append(b[:0], base...)
				copy(b, fmt.Sprintf("%08d", i))
				return b
			}
			done := make(chan error, 1)
			go func() {
				w := bufio.NewWriterSize(r.nc, 64<<10)
				var p []byte
				for i := 0; i < vc.count; i++ {
					p = payload(i, p)
					if vc.frame == 0 {
						w.Write(msg(vc.op, p))
						continue
					}
					for off := 0; off < len(p); off += vc.frame {
						end := min(off+vc.frame, len(p))
						o := OpContinuation
						if off == 0 {
							o = vc.op
						}
						w.Write(frag(end == len(p), o, p[off:end]))
					}
				}
				done <- w.Flush()
			}()
			defer func() {
				r.nc.Close()
				<-done
			}()
			var want []byte
			for i := 0; i < vc.count; i++ {
				f, err := confRead(r)
				if err != nil {
					t.Fatalf("echo %d of %d: %v", i+1, vc.count, err)
				}
				want = payload(i, want)
				checkFrame(t, i, f, echo(vc.op, want))
			}
			if err := <-done; err != nil {
				t.Fatalf("write: %v", err)
			}
			done <- nil
			r.send(OpClose, closePayload(StatusNormal, ""))
			r.expectClose(StatusNormal)
		})
	}
}

// TestConformance9Limit: WithMaxMessage(1 MiB): a message of exactly
// 1 MiB is echoed; one byte more fails with 1009 as soon as a frame
// header says so, before its payload is sent, whole or fragmented.
func TestConformance9Limit(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	addr := confServe(t, WithMaxMessage(limit))
	full := pattern(9, limit)
	half := pattern(10, limit/2)
	cases := []confCase{
		{name: "9.6.1", send: pieces(msg(OpBinary, full)), want: []rawFrame{echo(OpBinary, full)}},
		{name: "9.6.2", send: pieces(msg(OpText, full)), chunk: 65536, want: []rawFrame{echo(OpText, full)}},
		{name: "9.6.3", send: pieces(frag(false, OpBinary, half), frag(true, OpContinuation, half)), want: []rawFrame{echo(OpBinary, concat(half, half))}},
		// The header alone: the server must not wait for the payload.
		{name: "9.7.1", send: pieces(head(true, OpBinary, limit+1)), close: StatusMessageTooBig},
		{name: "9.7.2", send: pieces(head(true, OpText, limit+1)), chunk: 1, close: StatusMessageTooBig},
		{name: "9.7.3", send: pieces(head(true, OpBinary, 1<<40)), close: StatusMessageTooBig},
		// The first fragment within the limit, the second's header past it.
		{name: "9.7.4", send: pieces(frag(false, OpBinary, half), head(true, OpContinuation, limit/2+1)), close: StatusMessageTooBig},
		{name: "9.7.5", send: pieces(frag(false, OpText, half), frag(false, OpContinuation, half), head(true, OpContinuation, 1)), close: StatusMessageTooBig},
		// A valid message before it is echoed.
		{name: "9.7.6", send: pieces(msg(OpText, []byte("small")), head(true, OpBinary, limit+1)),
			want: []rawFrame{echo(OpText, []byte("small"))}, close: StatusMessageTooBig},
	}
	runConf(t, addr, cases)
}
