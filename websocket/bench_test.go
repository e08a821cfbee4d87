package websocket

import (
	"io"
	"testing"
)

// echoOnly echoes and records nothing.
type echoOnly struct{}

func (echoOnly) OnOpen(*Conn)         {}
func (echoOnly) OnClose(*Conn, error) {}
func (echoOnly) OnMessage(c *Conn, op Opcode, p []byte) {
	_ = c.WriteMessage(op, p)
}

// benchEcho measures a round trip of one masked binary message through
// the server over loopback. The client side allocates nothing, so the
// allocations reported are the server's.
func benchEcho(b *testing.B, size int, opts ...Option) {
	_, addr := serve(b, echoOnly{}, opts)
	r, _ := upgrade(b, addr, "")
	frame := frameBytes(rawFrame{fin: true, op: OpBinary, masked: true, p: make([]byte, size)})
	hl := 2
	switch {
	case size >= 65536:
		hl = 10
	case size >= 126:
		hl = 4
	}
	echo := make([]byte, hl+size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r.br, echo); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEcho64(b *testing.B)  { benchEcho(b, 64) }
func BenchmarkEcho16K(b *testing.B) { benchEcho(b, 16<<10) }
func BenchmarkEcho1M(b *testing.B)  { benchEcho(b, 1<<20) }
