package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/websocket"
)

// wsEcho is an in-process WebSocket echo server written against RFC 6455
// directly, whose answers can be shaped (fragmented) or broken on purpose.
type wsEcho struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
	// mode: "single" (one frame per message), "fragmented" (frames of
	// at most 1000 bytes), "masked" (a mask bit on the echo), "merged"
	// (two messages in one frame), "refuse" (403 to the upgrade).
	mode string
}

func startWSEcho(t *testing.T, mode string) *wsEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &wsEcho{ln: ln, mode: mode}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn = append(s.conn, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conn {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *wsEcho) serve(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if s.mode == "refuse" {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		base64.StdEncoding.EncodeToString(h[:])+"\r\n\r\n")
	var held []byte // "merged": the message waiting for the next
	for {
		var hd [2]byte
		if _, err := io.ReadFull(br, hd[:]); err != nil {
			return
		}
		n := uint64(hd[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if hd[0] != 0x82 || hd[1]&0x80 == 0 || n > 1<<24 {
			return // cload sends single masked binary frames
		}
		var key [4]byte
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		for i := range p {
			p[i] ^= key[i%4]
		}
		var out []byte
		switch s.mode {
		case "fragmented":
			for i := 0; i == 0 || i < len(p); i += 1000 {
				end := min(i+1000, len(p))
				op := byte(0x2)
				if i > 0 {
					op = 0
				}
				if end == len(p) {
					op |= 0x80
				}
				out = append(appendFrameHead(out, op, end-i), p[i:end]...)
			}
		case "masked":
			out = appendFrameHead(nil, 0x82, len(p))
			out[1] |= 0x80
			out = append(out, 0, 0, 0, 0)
			out = append(out, p...)
		case "merged":
			if held == nil {
				held = p
				continue
			}
			out = append(appendFrameHead(nil, 0x82, len(held)+len(p)), held...)
			out = append(out, p...)
			held = nil
		default:
			out = append(appendFrameHead(nil, 0x82, len(p)), p...)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// appendFrameHead appends an unmasked frame header: first byte b0, payload
// length n.
func appendFrameHead(dst []byte, b0 byte, n int) []byte {
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 65535:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
}

// wsEchoHandler echoes every message (mill's websocket package).
type wsEchoHandler struct{}

func (wsEchoHandler) OnOpen(*websocket.Conn) {}
func (wsEchoHandler) OnMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	_ = c.WriteMessage(op, p)
}
func (wsEchoHandler) OnClose(*websocket.Conn, error) {}

// TestCloadWS checks cload -ws: the upgrade, masked frames of each length
// encoding, echoes as single and fragmented frames, against a server
// written here and against mill's websocket package; and that a refused
// upgrade, a masked echo and two messages in one frame are reported.
func TestCloadWS(t *testing.T) {
	bin := buildCloadForTest(t)
	ws, err := websocket.NewServer(wsEchoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mill.NewServer(ws, "tcp://127.0.0.1:0", mill.WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ms.Serve() }()
	<-ms.Ready()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ms.Shutdown(ctx)
		<-served
	}()
	for _, srv := range []string{"single", "fragmented", "mill"} {
		for _, c := range []struct{ size, pipe string }{{"64", "4"}, {"300", "2"}, {"16384", "2"}, {"70000", "2"}} {
			t.Run(srv+"-"+c.size, func(t *testing.T) {
				addr := ms.Addr().String()
				if srv != "mill" {
					addr = startWSEcho(t, srv).ln.Addr().String()
				}
				r := runCload(t, bin, addr, "-ws", "-conns", "4", "-size", c.size, "-pipeline", c.pipe,
					"-warmup", "100ms", "-duration", "500ms", "-iotimeout", "5s")
				checkSchema(t, r.raw)
				if r.exitCode != 0 || r.res.Errors != 0 || r.res.Messages == 0 || r.res.Established != 4 {
					t.Fatalf("exit %d, result %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
				}
			})
		}
	}
	t.Run("idle", func(t *testing.T) {
		r := runCload(t, bin, ms.Addr().String(), "-ws", "-idle", "-conns", "20", "-size", "16", "-duration", "200ms")
		if r.exitCode != 0 || r.res.Errors != 0 || r.res.Established != 20 {
			t.Fatalf("exit %d, %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
		}
	})
	for _, c := range []struct{ mode, want string }{
		{"refuse", "websocket upgrade refused: HTTP/1.1 403"},
		{"masked", "unexpected frame"},
		{"merged", "want one message"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			s := startWSEcho(t, c.mode)
			r := runCload(t, bin, s.ln.Addr().String(), "-ws", "-conns", "2", "-size", "64", "-pipeline", "2",
				"-warmup", "100ms", "-duration", "300ms", "-iotimeout", "2s", "-dialretries", "0")
			if r.exitCode == 0 || r.res.Errors == 0 || !strings.Contains(r.res.FirstError, c.want) {
				t.Fatalf("not reported: exit %d, %+v", r.exitCode, r.res)
			}
			t.Logf("reported: %s", r.res.FirstError)
		})
	}
}
