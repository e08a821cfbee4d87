package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/mill-io/mill"
)

// TestLimitLengthOverflow: a continuation frame whose 64-bit length
// would wrap the message size round is refused at its header, not
// buffered without bound.
func TestLimitLengthOverflow(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	_, addr := serve(t, rec, []Option{WithMaxMessage(1024)})
	r, _ := upgrade(t, addr, "")
	recv(t, rec.opens, "OnOpen")
	r.write(frameBytes(rawFrame{op: OpBinary, masked: true, p: []byte{1}}))
	h := binary.BigEndian.AppendUint64([]byte{0x00, 0x80 | 127}, 1<<63-1)
	r.write(append(h, 0, 0, 0, 0))
	r.expectClose(StatusMessageTooBig)
	if err := recv(t, rec.closes, "OnClose"); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestCloseAnsweredByFINOnly: we closed, and the peer dropped the TCP
// connection without a close frame: OnClose does not report a clean
// handshake.
func TestCloseAnsweredByFINOnly(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	_, addr := serve(t, rec, nil)
	r, _ := upgrade(t, addr, "")
	c := recv(t, rec.opens, "OnOpen")
	if err := c.Close(StatusNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if f, err := r.read(); err != nil || f.op != OpClose {
		t.Fatalf("want our close frame: %v %v", f.op, err)
	}
	r.nc.Close()
	err := recv(t, rec.closes, "OnClose")
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusNormal || ce.Remote || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("OnClose: %v", err)
	}
}

type panicOnOpen struct{ *recorder }

func (panicOnOpen) OnOpen(*Conn) { panic("OnOpen") }

// TestClientOnOpenPanic: Dial returns an error when the handler's OnOpen
// panics, at once, not at its context's end.
func TestClientOnOpenPanic(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, newRecorder(false), nil)
	cl := newClient(t, panicOnOpen{newRecorder(false)})
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := cl.Dial(ctx, "ws://"+addr, nil); !errors.Is(err, ErrHandshake) || ctx.Err() != nil {
		t.Fatalf("Dial: %v (ctx %v)", err, ctx.Err())
	}
}

// TestDialSendsSNI: wss:// names the host in the ClientHello, also when
// the certificate is not verified.
func TestDialSendsSNI(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	names := make(chan string, 1)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) { names <- h.ServerName; return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	cl := newClient(t, newRecorder(false), WithTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cl.Dial(t.Context(), "wss://localhost:"+port+"/", nil)
	if name := recv(t, names, "ClientHello"); name != "localhost" {
		t.Fatalf("SNI %q", name)
	}
}

// bigThenSmall writes a large incompressible message, then a small one
// drawn from its end, as soon as the connection opens.
type bigThenSmall struct {
	*recorder
	big, small []byte
	errs       chan error
}

func (b *bigThenSmall) OnOpen(c *Conn) {
	b.errs <- c.WriteMessage(OpBinary, b.big)
	b.errs <- c.WriteMessage(OpBinary, b.small)
}

// TestContextTakeoverRefusedWrite: with compression context takeover, a
// message mill refuses (FailWrite) would leave our compressor ahead of
// the peer's decompressor; the connection closes instead of sending
// messages the peer cannot inflate.
func TestContextTakeoverRefusedWrite(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 128<<10)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	small := bytes.Clone(big[len(big)-3000 : len(big)-1000])
	srv := &bigThenSmall{recorder: newRecorder(false), big: big, small: small, errs: make(chan error, 2)}
	_, addr := serve(t, srv, []Option{WithCompression(Compression{Enabled: true, ContextTakeover: true, Level: 9})},
		mill.WithWriteWatermarks(16<<10, 32<<10), mill.WithOutboundLimit(64<<10, mill.FailWrite))
	got := newRecorder(false)
	cl := newClient(t, got, WithCompression(Compression{Enabled: true}))
	dialWS(t, cl, "ws://"+addr)
	if err := recv(t, srv.errs, "big write"); !errors.Is(err, mill.ErrOutboundFull) {
		t.Fatalf("big write: %v", err)
	}
	if err := recv(t, srv.errs, "small write"); !errors.Is(err, ErrClosed) {
		t.Fatalf("small write: %v", err)
	}
	if err := recv(t, srv.closes, "server OnClose"); !errors.Is(err, mill.ErrOutboundFull) {
		t.Fatalf("server OnClose: %v", err)
	}
	recv(t, got.closes, "the client's OnClose")
	if n := len(got.messages); n != 0 {
		t.Fatalf("the client got %d messages", n)
	}
}

// dialFromLoop dials from inside its own OnMessage, on the client's loop.
type dialFromLoop struct {
	*recorder
	cl   *Client
	url  string
	errs chan error
}

func (d *dialFromLoop) OnMessage(c *Conn, op Opcode, p []byte) {
	_, err := d.cl.Dial(context.Background(), d.url, nil)
	d.errs <- err
}

// TestDialOnClientLoop: Dial on one of the client's own loops returns
// mill.ErrOnEventLoop at once instead of stalling the loop.
func TestDialOnClientLoop(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, newRecorder(true), nil)
	h := &dialFromLoop{recorder: newRecorder(false), url: "ws://" + addr, errs: make(chan error, 1)}
	cl := newClient(t, h)
	h.cl = cl
	c := dialWS(t, cl, "ws://"+addr)
	if err := c.AsyncWriteMessage(OpText, []byte("go"), nil); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, h.errs, "Dial's result"); !errors.Is(err, mill.ErrOnEventLoop) {
		t.Fatalf("Dial on the loop: %v", err)
	}
}
