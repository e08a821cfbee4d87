package websocket

// Test fixtures shared by the package's tests: servers, raw clients that
// speak frames byte for byte, and recording handlers.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// waitBound bounds every wait in these tests.
const waitBound = 10 * time.Second

// serve starts a dedicated WebSocket server for h on a loopback port and
// stops it when the test ends.
func serve(t testing.TB, h Handler, opts []Option, millOpts ...mill.Option) (*Server, string) {
	t.Helper()
	ws, err := NewServer(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ws, serveHandler(t, ws, millOpts...)
}

// serveHandler serves any mill.Handler on a loopback port.
func serveHandler(t testing.TB, h mill.Handler, millOpts ...mill.Option) string {
	t.Helper()
	s, done := startServer(t, h, append([]mill.Option{mill.WithLoops(2)}, millOpts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
	})
	return s.Addr().String()
}

// startServer serves h on a fresh port and returns the server, ready, and
// the channel Serve's result arrives on; shutting it down is the
// caller's.
func startServer(t testing.TB, h mill.Handler, millOpts ...mill.Option) (*mill.Server, <-chan error) {
	t.Helper()
	s, err := mill.NewServer(h, "tcp://127.0.0.1:0", millOpts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return s, done
}

// recorder is a Handler that echoes (when echo is set) and records
// what happens.
type recorder struct {
	echo     bool
	opens    chan *Conn
	messages chan message
	closes   chan error
	onMsg    func(c *Conn, op Opcode, p []byte)
}

type message struct {
	op Opcode
	p  []byte
}

func newRecorder(echo bool) *recorder {
	return &recorder{echo: echo, opens: make(chan *Conn, 64), messages: make(chan message, 1024), closes: make(chan error, 64)}
}

func (r *recorder) OnOpen(c *Conn) { r.opens <- c }

func (r *recorder) OnMessage(c *Conn, op Opcode, p []byte) {
	if r.onMsg != nil {
		r.onMsg(c, op, p)
	}
	if r.echo {
		if err := c.WriteMessage(op, p); err != nil {
			panic(fmt.Sprintf("echo: %v", err))
		}
	}
	select {
	case r.messages <- message{op, append([]byte(nil), p...)}:
	default:
	}
}

func (r *recorder) OnClose(c *Conn, err error) { r.closes <- err }

// recv waits for a value from ch, at most waitBound.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitBound):
		t.Fatalf("no %s within %v", what, waitBound)
	}
	var zero T
	return zero
}

// raw is a client that speaks frames byte for byte over a plain socket.
type raw struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3's example key

// upgradeRequest is a valid upgrade request for addr with extra field
// lines (each ending in CRLF).
func upgradeRequest(addr, extra string) string {
	return "GET /chat HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// dialRaw connects to addr and sends req; it does not read the response.
func dialRaw(t testing.TB, addr, req string) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitBound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitBound))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// upgrade connects to addr and completes a handshake with extra fields;
// it returns the client and the response head.
func upgrade(t testing.TB, addr, extra string) (*raw, string) {
	t.Helper()
	r := dialRaw(t, addr, upgradeRequest(addr, extra))
	head := r.head()
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("handshake answered %q", head)
	}
	return r, head
}

// head reads a response head.
func (r *raw) head() string {
	r.t.Helper()
	var b strings.Builder
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("reading the response head: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

// rawFrame is a frame as sent or read.
type rawFrame struct {
	fin    bool
	rsv    byte // 0x40, 0x20, 0x10
	op     Opcode
	masked bool
	p      []byte
}

// frameBytes encodes f, masked with a fixed key when f.masked.
func frameBytes(f rawFrame) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := appendHeader(nil, f.fin, f.rsv, f.op, len(f.p), f.masked, key)
	n := len(b)
	b = append(b, f.p...)
	if f.masked {
		maskBytes(key, 0, b[n:])
	}
	return b
}

// send writes a final masked frame.
func (r *raw) send(op Opcode, p []byte) {
	r.write(frameBytes(rawFrame{fin: true, op: op, masked: true, p: p}))
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read reads one frame.
func (r *raw) read() (rawFrame, error) {
	var h [14]byte
	if _, err := io.ReadFull(r.br, h[:2]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: Opcode(h[0] & 0xf), masked: h[1]&0x80 != 0}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r.br, h[:2]); err != nil {
			return f, err
		}
		n = int(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(r.br, h[:8]); err != nil {
			return f, err
		}
		n = int(binary.BigEndian.Uint64(h[:8]))
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r.br, key[:]); err != nil {
			return f, err
		}
	}
	f.p = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.p); err != nil {
		return f, err
	}
	if f.masked {
		maskBytes(key, 0, f.p)
	}
	return f, nil
}

// expect reads one frame and checks its opcode and payload.
func (r *raw) expect(op Opcode, p []byte) {
	r.t.Helper()
	f, err := r.read()
	if err != nil {
		r.t.Fatalf("reading a %v frame: %v", op, err)
	}
	if f.op != op || string(f.p) != string(p) || !f.fin || f.masked {
		r.t.Fatalf("got %v fin=%v masked=%v %q, want %v %q", f.op, f.fin, f.masked, trunc(f.p), op, trunc(p))
	}
}

// expectClose reads frames up to a close frame, checks its code, and
// then the server's end of stream.
func (r *raw) expectClose(code StatusCode) {
	r.t.Helper()
	for {
		f, err := r.read()
		if err != nil {
			r.t.Fatalf("waiting for close %v: %v", code, err)
		}
		if f.op != OpClose {
			continue
		}
		got := StatusNoStatus
		if len(f.p) >= 2 {
			got = StatusCode(binary.BigEndian.Uint16(f.p))
		}
		if got != code {
			r.t.Fatalf("close frame with %v (%q), want %v", got, f.p, code)
		}
		break
	}
	r.expectEOF()
}

// expectEOF checks that the server closes the TCP connection, and
// closes the client's side, as a client does then.
func (r *raw) expectEOF() {
	r.t.Helper()
	defer r.nc.Close()
	if f, err := r.read(); err == nil {
		r.t.Fatalf("a %v frame after the close, want the end of stream", f.op)
	} else if !errors.Is(err, io.EOF) && !isReset(err) {
		r.t.Fatalf("after the close: %v, want the end of stream", err)
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func trunc(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}

// closePayload is a close frame's payload.
func closePayload(code StatusCode, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

var _ sync.Mutex
