package websocket

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// TestChurn: hundreds of connections that upgrade and close cleanly,
// vanish mid-message, or vanish mid-handshake leave nothing behind: no
// open connection, no pooled buffer held, no goroutine (goleak checks
// at the end).
func TestChurn(t *testing.T) {
	t.Parallel()
	h := newRecorder(true)
	h.messages, h.opens, h.closes = make(chan message, 1), make(chan *Conn, 1000), make(chan error, 1000)
	ws, err := NewServer(h, WithCompression(Compression{Enabled: true}))
	if err != nil {
		t.Fatal(err)
	}
	s, done := startServer(t, ws, mill.WithLoops(2))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	}()
	addr := s.Addr().String()
	const n = 300
	opened := 0
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0, 1: // a clean close, with a compressed message first
			r, _ := upgrade(t, addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
			opened++
			r.send(OpText, []byte(strings.Repeat("churn", i)))
			if f, err := r.read(); err != nil || f.op != OpText {
				t.Fatalf("conn %d: echo %v %v", i, f.op, err)
			}
			r.send(OpClose, closePayload(StatusNormal, ""))
			r.expectClose(StatusNormal)
		case 2: // gone mid-message
			r, _ := upgrade(t, addr, "")
			opened++
			b := frameBytes(rawFrame{fin: true, op: OpBinary, masked: true, p: make([]byte, 5000)})
			r.write(b[:len(b)/2])
			r.nc.(*net.TCPConn).SetLinger(0)
			r.nc.Close()
		case 3: // gone mid-handshake
			r := dialRaw(t, addr, upgradeRequest(addr, "")[:40])
			r.nc.Close()
		}
	}
	for i := 0; i < opened; i++ {
		recv(t, h.closes, "OnClose")
	}
	deadline := time.Now().Add(waitBound)
	for ws.Len() != 0 || s.CountConnections() != 0 || ws.ep.bufs.Outstanding() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after churn: %d WebSocket conns, %d mill conns, %d buffers held", ws.Len(), s.CountConnections(), ws.ep.bufs.Outstanding())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
