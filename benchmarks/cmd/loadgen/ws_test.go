package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWSAcceptRFCExample(t *testing.T) {
	// RFC 6455 §1.3.
	if got := wsAccept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept = %q", got)
	}
}

// TestWSFrames checks the client frames (as a server would decode them)
// and the parser of server frames at the three length encodings.
func TestWSFrames(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 1000, 0xffff, 0x10000, 70000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		f := wsAppendFrame(nil, wsOpBinary, p)
		if f[0] != 0x82 || f[1]&0x80 == 0 {
			t.Fatalf("n=%d: header %x", n, f[:2])
		}
		body := bytes.Clone(f[len(f)-n:])
		if !bytes.Equal(f[len(f)-n-4:len(f)-n], wsMaskKey[:]) {
			t.Fatalf("n=%d: key not before the payload", n)
		}
		wsMask(body)
		if !bytes.Equal(body, p) {
			t.Fatalf("n=%d: unmasked payload differs", n)
		}
		// The same frame unmasked, as a server sends it.
		srv := bytes.Clone(f)
		srv[1] &^= 0x80
		hl := len(f) - n - 4
		srv = append(srv[:hl], p...)
		for cut := 0; cut < len(srv); cut += max(1, len(srv)/7) {
			if _, _, m, err := wsParseFrame(srv[:cut]); m != 0 || err != nil {
				t.Fatalf("n=%d: partial frame (%d bytes) gave %d, %v", n, cut, m, err)
			}
		}
		op, got, m, err := wsParseFrame(append(srv, 0x81))
		if err != nil || op != wsOpBinary || m != len(srv) || !bytes.Equal(got, p) {
			t.Fatalf("n=%d: parse = %d, %d bytes, %d, %v", n, op, len(got), m, err)
		}
		if _, _, _, err := wsParseFrame(f); err == nil {
			t.Fatalf("n=%d: masked frame from a server accepted", n)
		}
	}
	for name, f := range map[string][]byte{
		"close":     {0x88, 0x02, 0x03, 0xe8},
		"ping":      {0x89, 0x00},
		"fragment":  {0x02, 0x01, 'x'},
		"rsv":       {0xc2, 0x01, 'x'},
		"continued": {0x80, 0x01, 'x'},
	} {
		if _, _, _, err := wsParseFrame(f); err == nil {
			t.Errorf("%s frame accepted", name)
		}
	}
}

// wsTestServer is an in-process gorilla/websocket server over real
// sockets: echo, broadcast on a "broadcast" text trigger, and faults.
type wsTestServer struct {
	ln      net.Listener
	corrupt bool // flip a bit in every echo after the first
	mu      sync.Mutex
	conns   map[*websocket.Conn]*sync.Mutex
}

func startWSServer(t *testing.T, corrupt bool) *wsTestServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &wsTestServer{ln: ln, corrupt: corrupt, conns: map[*websocket.Conn]*sync.Mutex{}}
	up := websocket.Upgrader{}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wmu := new(sync.Mutex)
		s.mu.Lock()
		s.conns[c] = wmu
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
		for n := 0; ; n++ {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if op == websocket.TextMessage && bytes.HasPrefix(p, []byte("broadcast")) {
				s.mu.Lock()
				for o, m := range s.conns {
					m.Lock()
					_ = o.WriteMessage(op, p)
					m.Unlock()
				}
				s.mu.Unlock()
				continue
			}
			if s.corrupt && n > 0 {
				p[len(p)/2] ^= 1
			}
			wmu.Lock()
			err = c.WriteMessage(op, p)
			wmu.Unlock()
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() { ln.Close() })
	return s
}

func wsTestOptions(addr string, conns, size int) options {
	return options{addr: addr, conns: conns, size: size, pipeline: 1, ws: true, wsPath: "/",
		duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, ioTimeout: 3 * time.Second,
		dial: dialConfig{addr: addr, conc: 4, retries: 1, timeout: 10 * time.Second,
			srcIPs: []net.IP{net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)}}}
}

func TestWSLoad(t *testing.T) {
	phaseOut = io.Discard
	s := startWSServer(t, false)
	for _, c := range []struct{ size, pipe int }{{64, 1}, {16 << 10, 1}, {100, 4}, {70000, 2}} {
		o := wsTestOptions(s.ln.Addr().String(), 3, c.size)
		o.pipeline = c.pipe
		r := runWSLoad(o)
		if r.Errors != 0 || r.Messages == 0 || r.Established != 3 {
			t.Fatalf("size %d pipeline %d: %+v", c.size, c.pipe, r)
		}
		printHuman(io.Discard, r)
	}
}

func TestWSLoadCorruptEcho(t *testing.T) {
	phaseOut = io.Discard
	s := startWSServer(t, true)
	r := runWSLoad(wsTestOptions(s.ln.Addr().String(), 2, 64))
	if r.Errors == 0 || !strings.Contains(r.FirstError, "mismatch") {
		t.Fatalf("corruption not reported: %+v", r)
	}
}

func TestWSHandshakeRejected(t *testing.T) {
	phaseOut = io.Discard
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.NotFoundHandler())
	o := wsTestOptions(ln.Addr().String(), 1, 64)
	o.dial.retries = 0
	if r := runWSLoad(o); r.Errors == 0 || !strings.Contains(r.FirstError, "status line") {
		t.Fatalf("404 not reported: %+v", r)
	}
}

func TestWSIdle(t *testing.T) {
	phaseOut = io.Discard
	s := startWSServer(t, false)
	o := wsTestOptions(s.ln.Addr().String(), 20, 64)
	o.idle = true
	o.duration = 50 * time.Millisecond
	if r := runWSIdle(o); r.Errors != 0 || r.Established != 20 {
		t.Fatalf("idle: %+v", r)
	}
}

func TestWSBroadcast(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("broadcast mode is Linux-only")
	}
	phaseOut = io.Discard
	s := startWSServer(t, false)
	o := wsTestOptions(s.ln.Addr().String(), 50, 64)
	o.broadcast = true
	r := runWSBroadcast(o)
	if r.Errors != 0 || r.Broadcasts == 0 || r.Messages != r.Broadcasts*50 || r.Spread == nil ||
		r.Latency.Max < r.Spread.Max {
		t.Fatalf("broadcast: %+v", r)
	}
	printHuman(io.Discard, r)
}

func TestWSBroadcastServerSendsOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("broadcast mode is Linux-only")
	}
	phaseOut = io.Discard
	// A server that answers a trigger with a plain echo to the sender only
	// leaves the others waiting: that must fail within -iotimeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up := websocket.Upgrader{}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, p, err := c.ReadMessage()
			if err != nil || c.WriteMessage(op, p) != nil {
				return
			}
		}
	}))
	o := wsTestOptions(ln.Addr().String(), 3, 64)
	o.broadcast = true
	o.ioTimeout = 300 * time.Millisecond
	if r := runWSBroadcast(o); r.Errors == 0 || !strings.Contains(r.FirstError, "still waiting") {
		t.Fatalf("missing deliveries not reported: %+v", r)
	}
}
