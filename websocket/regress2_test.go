package websocket

// Regression tests of the second review: each failed before its fix.

import (
	"testing"
)

// TestNilPrepared: a nil *Prepared is refused with an error by
// WritePrepared, AsyncWritePrepared and Broadcast; it does not panic on
// the loop, which failed every connection a Broadcast(nil) reached.
func TestNilPrepared(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	var loopErr error
	rec.onMsg = func(c *Conn, _ Opcode, _ []byte) { loopErr = c.WritePrepared(nil) }
	ws, addr := serve(t, rec, nil)
	r, _ := upgrade(t, addr, "")
	c := recv(t, rec.opens, "OnOpen")
	if n := ws.Broadcast(nil); n != 0 {
		t.Errorf("Server.Broadcast(nil) = %d, want 0", n)
	}
	if n := Broadcast([]*Conn{c}, nil); n != 0 {
		t.Errorf("Broadcast(conns, nil) = %d, want 0", n)
	}
	if err := c.AsyncWritePrepared(nil, nil); err == nil {
		t.Error("AsyncWritePrepared(nil) = nil")
	}
	r.send(OpText, []byte("still open"))
	if m := recv(t, rec.messages, "OnMessage"); string(m.p) != "still open" {
		t.Fatalf("OnMessage %q", m.p)
	}
	if loopErr == nil {
		t.Error("WritePrepared(nil) = nil")
	}
	select {
	case err := <-rec.closes:
		t.Fatalf("the connection closed: %v", err)
	default:
	}
}
