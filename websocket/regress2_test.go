package websocket

// Regression tests of the second review: each failed before its fix.

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"go.uber.org/zap"
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

// TestClientCloseWaitBounded: after the close handshake a client waits
// for the server to end the TCP connection at most the close timeout,
// also when the server keeps sending bytes meanwhile (they restarted the
// quiet timer that bounds the wait, so the connection stayed open for
// as long as the bytes came).
func TestClientCloseWaitBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	served := make(chan struct{})
	defer func() { close(stop); <-served }()
	go func() {
		defer close(served)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			acceptKey([]byte(req.Header.Get("Sec-WebSocket-Key"))) + "\r\n\r\n"))
		nc.Write(frameBytes(rawFrame{fin: true, op: OpClose, p: closePayload(StatusNormal, "bye")}))
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for { // bytes after the close frame, and no end of stream
			select {
			case <-stop:
				return
			case <-tk.C:
				if _, err := nc.Write([]byte{0}); err != nil {
					return
				}
			}
		}
	}()
	rec := newRecorder(false)
	cl := newClient(t, rec, WithCloseTimeout(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := cl.Dial(ctx, "ws://"+ln.Addr().String(), nil); err != nil {
		t.Fatal(err)
	}
	err = recv(t, rec.closes, "OnClose")
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusNormal || !ce.Remote {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestAcceptNilRefusal: a WithAccept hook that returns a nil *Refusal
// as its error (a typed nil, so the error is not nil) refuses the
// upgrade with 403 like any other error; reading its status panicked,
// and the client got no answer at all.
func TestAcceptNilRefusal(t *testing.T) {
	t.Parallel()
	hook := func(*Upgrade) error {
		var rf *Refusal
		return rf
	}
	_, addr := serve(t, newRecorder(false), []Option{WithAccept(hook)})
	r := dialRaw(t, addr, upgradeRequest(addr, ""))
	if line, err := r.br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 403 ") {
		t.Fatalf("answered %q (%v), want 403", line, err)
	}
}

// TestHandlerPanicSends1011: a panic in OnMessage sends the peer a close
// frame with 1011 (internal error) before mill closes the connection,
// instead of a connection that vanishes (1006); OnClose sees the panic.
func TestHandlerPanicSends1011(t *testing.T) {
	t.Parallel()
	h := newRecorder(false)
	h.onMsg = func(c *Conn, op Opcode, p []byte) {
		if string(p) == "boom" {
			panic("boom")
		}
	}
	ws, err := NewServer(h)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHandler(t, ws, mill.WithLogger(zap.NewNop()))
	r, _ := upgrade(t, addr, "")
	recv(t, h.opens, "OnOpen")
	r.send(OpText, []byte("boom"))
	r.expectClose(StatusInternalError)
	err = recv(t, h.closes, "OnClose")
	var ce *CloseError
	if !errors.Is(err, mill.ErrHandlerPanic) || CloseStatus(err) != StatusInternalError || !errors.As(err, &ce) || ce.Remote {
		t.Fatalf("OnClose: %v, want 1011 by us with the panic", err)
	}
}

// fillThenClose writes until mill refuses a message (FailWrite), then
// asks for a close, whose frame cannot be queued either.
type fillThenClose struct {
	*recorder
	errs chan error
}

func (f *fillThenClose) OnOpen(c *Conn) {
	// Halve the message whenever one is refused, down to empty ones (a
	// 2-byte frame): the queue is then too full for a 4-byte close frame.
	p := make([]byte, 16<<10)
	var err error
	for i := 0; i < 10000; i++ {
		if err = c.WriteMessage(OpBinary, p); err != nil {
			if len(p) == 0 {
				break
			}
			p = p[:len(p)/2]
		}
	}
	f.errs <- err
	f.errs <- c.Close(StatusNormal, "")
}

// TestCloseRefusedUnderFailWrite: a close frame mill refuses to queue
// (FailWrite, queue full) ends the connection, and OnClose says why; it
// was dropped, and the connection stayed open with the close forgotten.
func TestCloseRefusedUnderFailWrite(t *testing.T) {
	t.Parallel()
	h := &fillThenClose{recorder: newRecorder(false), errs: make(chan error, 2)}
	ws, err := NewServer(h)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHandler(t, ws, mill.WithLogger(zap.NewNop()), mill.WithWriteWatermarks(16<<10, 32<<10),
		mill.WithOutboundLimit(64<<10, mill.FailWrite))
	r, _ := upgrade(t, addr, "") // and never read
	defer r.nc.Close()
	if err := recv(t, h.errs, "the writes"); !errors.Is(err, mill.ErrOutboundFull) {
		t.Fatalf("writes ended with %v, want ErrOutboundFull", err)
	}
	if err := recv(t, h.errs, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = recv(t, h.closes, "OnClose")
	var ce *CloseError
	if !errors.Is(err, mill.ErrOutboundFull) || !errors.As(err, &ce) || ce.Code != StatusAbnormal || ce.Remote {
		t.Fatalf("OnClose: %v, want 1006 by us with ErrOutboundFull", err)
	}
}

// TestStreamedCompressedLimit: with a StreamHandler, the frames of a
// compressed message count against WithMaxMessage together, at each
// frame header (the message is inflated whole at its last frame); they
// were bounded only by the inflater's looser backstop (limit + 1/8 +
// 4 KiB), so frames well past the limit were taken in.
func TestStreamedCompressedLimit(t *testing.T) {
	t.Parallel()
	h := &streamer{recorder: newRecorder(false), frames: make(chan string, 16)}
	_, addr := serve(t, h, []Option{WithMaxMessage(1000), WithCompression(Compression{Enabled: true})})
	r, _ := upgrade(t, addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	p := make([]byte, 900) // compressed bytes need not be valid: the header is refused first
	r.write(frameBytes(rawFrame{rsv: 0x40, op: OpBinary, masked: true, p: p}))
	r.write(frameBytes(rawFrame{op: OpContinuation, masked: true, p: p}))
	r.write(frameBytes(rawFrame{op: OpContinuation, masked: true, p: p})) // 2,700 > 1000 + 1000/64 + 1024
	r.expectClose(StatusMessageTooBig)
}
