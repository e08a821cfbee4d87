package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
	"github.com/mill-io/mill/websocket"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// waitBound bounds every wait in these tests.
const waitBound = 20 * time.Second

// start serves the chat with two loops on a free loopback port until the
// test ends, and returns its address.
func start(t testing.TB) string {
	t.Helper()
	return startWith(t, 10*time.Second)
}

// startWith is start with the HTTP side's timeout given.
func startWith(t testing.TB, httpTimeout time.Duration) string {
	t.Helper()
	s, err := newServer("tcp://127.0.0.1:0", 2, httpTimeout, mill.WithLogger(zap.NewNop()))
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s.Addr().String()
}

// member is a Go client in the room: a websocket.Handler that decodes
// what the room sends onto a channel.
type member struct {
	out    chan Out
	closed chan error
	conn   *websocket.Conn
}

func (*member) OnOpen(*websocket.Conn) {}

// OnMessage decodes payload (valid only during the call) into an Out.
func (m *member) OnMessage(_ *websocket.Conn, op websocket.Opcode, payload []byte) {
	var o Out
	if op != websocket.OpText || json.Unmarshal(payload, &o) != nil {
		o = Out{Event: "bad message: " + string(payload)}
	}
	m.out <- o
}

func (m *member) OnClose(_ *websocket.Conn, err error) { m.closed <- err }

// join connects a Go client to the room at addr as name (none if ""),
// with the package's own client; it is stopped when the test ends.
func join(t *testing.T, addr, name string, header http.Header) *member {
	t.Helper()
	m := &member{out: make(chan Out, 256), closed: make(chan error, 1)}
	cl, err := websocket.NewClient(m, websocket.WithMillOptions(mill.WithLogger(zap.NewNop())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_ = cl.Stop(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	url := "ws://" + addr + "/ws"
	if name != "" {
		url += "?name=" + name
	}
	m.conn, err = cl.Dial(ctx, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// say sends text to the room.
func (m *member) say(t *testing.T, text string) {
	t.Helper()
	b, _ := json.Marshal(In{Text: text})
	if err := m.conn.AsyncWriteMessage(websocket.OpText, b, nil); err != nil {
		t.Fatal(err)
	}
}

// expect reads what the room sends until it has seen every one of want,
// in any order, failing on a close or after waitBound. Anything else is
// skipped.
func (m *member) expect(t *testing.T, want ...Out) {
	t.Helper()
	timeout := time.After(waitBound)
	left := map[Out]bool{}
	for _, w := range want {
		left[w] = true
	}
	for {
		select {
		case o := <-m.out:
			delete(left, o)
			if len(left) == 0 {
				return
			}
		case err := <-m.closed:
			t.Fatalf("closed waiting for %+v: %v", left, err)
		case <-timeout:
			t.Fatalf("no %+v", left)
		}
	}
}

// TestTwoMembers: two Go clients see each other join, speak and leave.
func TestTwoMembers(t *testing.T) {
	addr := start(t)
	ann := join(t, addr, "ann", nil)
	ann.expect(t, Out{Name: "ann", Event: "join"})
	bob := join(t, addr, "Bob%20the%20Builder", nil)
	ann.expect(t, Out{Name: "Bob the Builder", Event: "join"})
	bob.expect(t, Out{Name: "Bob the Builder", Event: "join"})

	ann.say(t, "hello bob")
	bob.expect(t, Out{Name: "ann", Text: "hello bob"})
	ann.expect(t, Out{Name: "ann", Text: "hello bob"}) // everyone hears it, the sender too
	bob.say(t, "  hi ann <b>!</b>  ")
	ann.expect(t, Out{Name: "Bob the Builder", Text: "hi ann <b>!</b>"})

	// In order, from one sender.
	for i := range 50 {
		ann.say(t, strings.Repeat("x", i+1))
	}
	for i := range 50 {
		bob.expect(t, Out{Name: "ann", Text: strings.Repeat("x", i+1)})
	}

	if err := bob.conn.Close(websocket.StatusNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	ann.expect(t, Out{Name: "Bob the Builder", Event: "leave"})
}

// TestLimits: a text over 4 KiB closes with 1008, a message over the
// WebSocket limit with 1009, and a message that is not JSON with 1008;
// a long name is cut to 32 characters, a missing one made up.
func TestLimits(t *testing.T) {
	addr := start(t)
	watcher := join(t, addr, strings.Repeat("n", 40), nil)
	watcher.expect(t, Out{Name: strings.Repeat("n", maxName), Event: "join"})
	guest := join(t, addr, "", nil)
	watcher.expect(t, Out{Name: "guest-1", Event: "join"})

	guest.say(t, strings.Repeat("y", maxText))
	watcher.expect(t, Out{Name: "guest-1", Text: strings.Repeat("y", maxText)})

	for _, tc := range []struct {
		name    string
		payload string
		code    websocket.StatusCode
	}{
		{"text over 4 KiB", `{"text":"` + strings.Repeat("z", maxText+1) + `"}`, websocket.StatusPolicyViolation},
		{"message over the limit", `{"text":"` + strings.Repeat("z", maxMessage) + `"}`, websocket.StatusMessageTooBig},
		{"not JSON", `hello`, websocket.StatusPolicyViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := join(t, addr, "spammer", nil)
			if err := m.conn.AsyncWriteMessage(websocket.OpText, []byte(tc.payload), nil); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-m.closed:
				if websocket.CloseStatus(err) != tc.code {
					t.Fatalf("closed with %v, want %d", err, tc.code)
				}
			case <-time.After(waitBound):
				t.Fatal("not closed")
			}
		})
	}
}

// get sends raw requests on one connection and returns the responses, in
// order, read with net/http's parser.
func get(t *testing.T, addr string, requests string, n int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitBound))
	if _, err := io.WriteString(c, requests); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	for range n {
		req, _ := http.NewRequest("GET", "/", nil) // a HEAD's response has no body; all ours are GETs but one
		if strings.HasPrefix(requests, "HEAD") && len(resps) == 0 {
			req.Method = "HEAD"
		}
		r, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("response %d: %v", len(resps)+1, err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		resps = append(resps, r)
	}
	return resps
}

// TestHTTP: the page with its Content-Type, 404 elsewhere, keep-alive and
// pipelining, and an upgrade pipelined after ordinary requests on the
// same connection.
func TestHTTP(t *testing.T) {
	addr := start(t)
	rs := get(t, addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /ws/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 4)
	if r := rs[0]; r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" || r.ContentLength != int64(len(page)) {
		t.Errorf("HEAD /: %d %q length %d", r.StatusCode, r.Header.Get("Content-Type"), r.ContentLength)
	}
	body, _ := io.ReadAll(rs[1].Body)
	if r := rs[1]; r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" || string(body) != string(page) {
		t.Errorf("GET /: %d %q, %d bytes", r.StatusCode, r.Header.Get("Content-Type"), len(body))
	}
	if !strings.Contains(string(body), "new WebSocket(") {
		t.Error("the page has no WebSocket in it")
	}
	for i, r := range rs[2:] {
		if r.StatusCode != 404 {
			t.Errorf("request %d: %d, want 404", i+3, r.StatusCode)
		}
	}
	if !rs[3].Close {
		t.Error("Connection: close not honoured")
	}

	// Two requests for the page, then an upgrade, all in one write: the
	// two responses come first, then the 101.
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitBound))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /ws?name=raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []int{200, 404, 101} {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode != want {
			t.Fatalf("status %d, want %d", r.StatusCode, want)
		}
		if want == 101 {
			if got := r.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("Sec-WebSocket-Accept %q", got)
			}
			break
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}
	// The room's first message: our own join notice, unmasked text.
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, msg); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x81 || string(msg) != `{"name":"raw","event":"join"}` {
		t.Fatalf("first frame %x %q", hdr, msg)
	}
}

// TestCrossOrigin: a page of another site may not open the room's
// WebSocket (the websocket package's default Origin check); the same
// site may.
func TestCrossOrigin(t *testing.T) {
	addr := start(t)
	join(t, addr, "local", http.Header{"Origin": {"http://" + addr}})
	m := &member{out: make(chan Out, 1), closed: make(chan error, 1)}
	cl, err := websocket.NewClient(m, websocket.WithMillOptions(mill.WithLogger(zap.NewNop())))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	_, err = cl.Dial(ctx, "ws://"+addr+"/ws", http.Header{"Origin": {"http://evil.example"}})
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.Status != 403 {
		t.Fatalf("cross-origin dial: %v, want a 403", err)
	}
}

// TestHTTPTimeouts: an HTTP connection that sends nothing, or trickles
// a request it never finishes, is closed after -http-timeout, so idle
// sockets cannot pile up; a member, once upgraded, is not.
func TestHTTPTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := startWith(t, timeout)
	closed := func(c net.Conn) error {
		c.SetReadDeadline(time.Now().Add(waitBound))
		_, err := c.Read(make([]byte, 1))
		return err
	}
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err := closed(silent); err != io.EOF {
		t.Fatalf("silent connection: %v, want the server's end of stream", err)
	}

	// One byte of a request every 100 ms: never silent for the timeout,
	// never finished.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	gone := make(chan error, 1)
	go func() { gone <- closed(slow) }()
	// The server ends it with a FIN, or with a reset when a trickled byte
	// came in unread just before it closed: either way it cut it off.
	if err := trickle(slow, "GET /ws?name=slow HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\n", gone); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("trickled request: %v, want the server to end the connection", err)
	}

	ann := join(t, addr, "ann", nil)
	ann.expect(t, Out{Name: "ann", Event: "join"})
	// Quiet for several timeouts (a measurement window, not an
	// ordering): the WebSocket connection has no HTTP timeout.
	time.Sleep(4 * timeout)
	ann.say(t, "still here")
	ann.expect(t, Out{Name: "ann", Text: "still here"})
}

// trickle writes req to c a byte every 100 ms until gone says c has
// ended, and returns what gone said, or an error once req is all out.
func trickle(c net.Conn, req string, gone <-chan error) error {
	for i := 0; i < len(req); i++ {
		select {
		case err := <-gone:
			return err
		case <-time.After(100 * time.Millisecond):
		}
		c.Write([]byte{req[i]})
	}
	return fmt.Errorf("a request trickled over %v was not cut off", time.Duration(len(req))*100*time.Millisecond)
}
