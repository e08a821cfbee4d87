package websocket

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEchoRaw(t *testing.T) {
	t.Parallel()
	h := newRecorder(true)
	_, addr := serve(t, h, nil)
	r, head := upgrade(t, addr, "")
	if !strings.Contains(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Fatalf("head: %q", head)
	}
	recv(t, h.opens, "OnOpen")
	r.send(OpText, []byte("hello"))
	r.expect(OpText, []byte("hello"))
	big := bytes.Repeat([]byte{0xa5}, 70000)
	r.send(OpBinary, big)
	r.expect(OpBinary, big)
	r.send(OpPing, []byte("p"))
	r.expect(OpPong, []byte("p"))
	r.send(OpClose, closePayload(StatusNormal, "bye"))
	r.expectClose(StatusNormal)
	err := recv(t, h.closes, "OnClose")
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusNormal || ce.Reason != "bye" || !ce.Remote || ce.Err != nil {
		t.Fatalf("OnClose: %#v", err)
	}
}

func TestProtocolErrorCloses1002(t *testing.T) {
	t.Parallel()
	h := newRecorder(true)
	_, addr := serve(t, h, nil)
	r, _ := upgrade(t, addr, "")
	r.write(frameBytes(rawFrame{fin: true, op: OpText, p: []byte("unmasked")}))
	r.expectClose(StatusProtocolError)
	if err := recv(t, h.closes, "OnClose"); !errors.Is(err, ErrProtocol) || CloseStatus(err) != StatusProtocolError {
		t.Fatalf("OnClose: %v", err)
	}
}
