package websocket

// Conformance section 7: the closing handshake (RFC 6455 §5.5.1, §7.1,
// §7.4).

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestConformance7Close: close frames are answered with the same code
// (or an empty one with an empty one) and the server then ends the TCP
// connection; codes that may not be sent, a 1-byte payload and a reason
// that is not UTF-8 fail the connection; nothing after a close frame is
// answered.
func TestConformance7Close(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	hello := []byte("Hello, world!")
	cases := []confCase{
		{name: "7.1.1", send: pieces(msg(OpText, hello), msg(OpClose, closePayload(StatusNormal, ""))),
			want: []rawFrame{echo(OpText, hello)}, close: StatusNormal},
		{name: "7.1.2", send: pieces(msg(OpClose, nil)), closeEmpty: true},
		// Nothing after the close frame is answered.
		{name: "7.1.3", send: pieces(msg(OpClose, closePayload(StatusNormal, "")), msg(OpPing, []byte("after close"))), close: StatusNormal},
		{name: "7.1.4", send: pieces(msg(OpClose, closePayload(StatusNormal, "")), msg(OpText, hello)), close: StatusNormal},
		{name: "7.1.5", send: pieces(frag(false, OpText, []byte("fragment1")), msg(OpClose, closePayload(StatusNormal, "")), frag(true, OpContinuation, []byte("fragment2"))),
			close: StatusNormal},
		{name: "7.1.6", send: pieces(msg(OpBinary, repeatByte(0xfe, 256<<10)), msg(OpClose, closePayload(StatusNormal, "")), msg(OpPing, nil)),
			want: []rawFrame{echo(OpBinary, repeatByte(0xfe, 256<<10))}, close: StatusNormal},
		{name: "7.1.7", send: pieces(msg(OpClose, nil)), chunk: 1, closeEmpty: true},
		{name: "7.3.1", send: pieces(msg(OpClose, nil), msg(OpClose, closePayload(StatusNormal, ""))), closeEmpty: true},
		{name: "7.3.2", send: pieces(msg(OpClose, []byte{0x03})), close: StatusProtocolError},
		{name: "7.3.3", send: pieces(msg(OpClose, closePayload(StatusNormal, ""))), close: StatusNormal},
		{name: "7.3.4", send: pieces(msg(OpClose, closePayload(StatusNormal, "Hello World!"))), close: StatusNormal},
		{name: "7.3.5", send: pieces(msg(OpClose, closePayload(StatusNormal, string(pattern(7, 123))))), close: StatusNormal},
		{name: "7.3.6", send: pieces(msg(OpClose, closePayload(StatusNormal, string(pattern(7, 124))))), close: StatusProtocolError},
		{name: "7.5.1", send: pieces(msg(OpClose, closePayload(StatusNormal, "κόσμε\xed\xa0\x80edited"))), close: StatusInvalidPayload},
		{name: "7.5.2", send: pieces(msg(OpClose, closePayload(StatusNormal, "\xc0\x80"))), close: StatusInvalidPayload},
		{name: "7.5.3", send: pieces(msg(OpClose, closePayload(StatusNormal, "κόσμε\xce"))), close: StatusInvalidPayload}, // truncated at the end
		{name: "7.5.4", send: pieces(msg(OpClose, closePayload(StatusNormal, "κόσμε"))), close: StatusNormal},
	}
	for i, code := range []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, confCase{name: fmt.Sprintf("7.7.%d.%d", i+1, code), send: pieces(msg(OpClose, closePayload(code, "reason"))), close: code})
	}
	for i, code := range []StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, confCase{name: fmt.Sprintf("7.9.%d.%d", i+1, code), send: pieces(msg(OpClose, closePayload(code, ""))), close: StatusProtocolError})
	}
	runConf(t, addr, cases)
}

// closer is an echo handler that starts the closing handshake with 4000
// "x" when a message says "close", and reports OnClose.
type closer struct {
	confEcho
	closes chan error
}

// OnMessage closes on "close", else echoes.
func (h *closer) OnMessage(c *Conn, op Opcode, p []byte) {
	if string(p) == "close" {
		if err := c.Close(4000, "x"); err != nil {
			panic(err)
		}
		return
	}
	h.confEcho.OnMessage(c, op, p)
}

// OnClose reports err.
func (h *closer) OnClose(_ *Conn, err error) { h.closes <- err }

// TestConformance7ServerClose: a close the handler starts (RFC 6455
// §7.1.2): the close frame carries its code and reason; data the peer
// sends before answering is dropped; once the peer answers, the server
// ends the TCP connection and OnClose sees the handshake. If the peer
// never answers, the close timeout ends the connection.
func TestConformance7ServerClose(t *testing.T) {
	t.Parallel()
	t.Run("7.2.1.answered", func(t *testing.T) {
		t.Parallel()
		h := &closer{closes: make(chan error, 1)}
		_, addr := serve(t, h, nil)
		r, _ := upgrade(t, addr, "")
		r.send(OpText, []byte("close"))
		f, err := r.read()
		if err != nil || f.op != OpClose || string(f.p) != string(closePayload(4000, "x")) {
			t.Fatalf("got %v %q (%v), want close 4000 \"x\"", f.op, f.p, err)
		}
		r.send(OpText, []byte("dropped")) // not echoed: the server is closing
		r.send(OpPing, []byte("dropped"))
		r.send(OpClose, closePayload(4000, ""))
		r.expectEOF()
		err = recv(t, h.closes, "OnClose")
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "x" || ce.Remote || ce.Err != nil {
			t.Fatalf("OnClose: %#v", err)
		}
	})
	t.Run("7.2.2.timeout", func(t *testing.T) {
		t.Parallel()
		h := &closer{closes: make(chan error, 1)}
		_, addr := serve(t, h, []Option{WithCloseTimeout(200 * time.Millisecond)})
		r, _ := upgrade(t, addr, "")
		r.send(OpText, []byte("close"))
		f, err := r.read()
		if err != nil || f.op != OpClose || string(f.p) != string(closePayload(4000, "x")) {
			t.Fatalf("got %v %q (%v), want close 4000 \"x\"", f.op, f.p, err)
		}
		// No answer: the server must give up and end the connection.
		r.expectEOF()
		err = recv(t, h.closes, "OnClose")
		if !errors.Is(err, ErrCloseTimeout) {
			t.Fatalf("OnClose: %v, want ErrCloseTimeout", err)
		}
	})
}
