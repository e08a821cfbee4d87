package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// newClient makes a Client for h, stopped when the test ends.
func newClient(t testing.TB, h Handler, opts ...Option) *Client {
	t.Helper()
	cl, err := NewClient(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return cl
}

func dialWS(t testing.TB, cl *Client, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	c, err := cl.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("Dial %s: %v", url, err)
	}
	return c
}

// TestClientServer: mill's client and server, both ways, with and
// without compression, with messages from other goroutines.
func TestClientServer(t *testing.T) {
	t.Parallel()
	for _, zip := range []bool{false, true} {
		t.Run(fmt.Sprintf("deflate=%v", zip), func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if zip {
				opts = append(opts, WithCompression(Compression{Enabled: true}))
			}
			srv := newRecorder(true)
			ws, addr := serve(t, srv, append(opts, WithSubprotocols("chat.v2", "chat.v1")))
			got := newRecorder(false)
			cl := newClient(t, got, append(opts, WithSubprotocols("chat.v1", "chat.v2"))...)
			c := dialWS(t, cl, "ws://"+addr+"/x?y=1")
			recv(t, got.opens, "client OnOpen")
			if c.Subprotocol() != "chat.v2" || c.Compressed() != zip {
				t.Fatalf("Subprotocol %q Compressed %v", c.Subprotocol(), c.Compressed())
			}
			sc := recv(t, srv.opens, "server OnOpen")
			if ws.Len() != 1 {
				t.Fatalf("Len %d", ws.Len())
			}
			text := bytes.Repeat([]byte("mill websocket "), 1000)
			msgs := [][]byte{{}, []byte("a"), text, bytes.Repeat([]byte{0, 1, 2, 255}, 70000)}
			for i, m := range msgs {
				op := OpBinary
				if i%2 == 0 {
					op = OpText
				}
				if err := c.AsyncWriteMessage(op, m, nil); err != nil {
					t.Fatal(err)
				}
			}
			for i, m := range msgs {
				e := recv(t, got.messages, "echo")
				if !bytes.Equal(e.p, m) || (e.op == OpText) != (i%2 == 0) {
					t.Fatalf("echo %d: %v %d bytes, want %d", i, e.op, len(e.p), len(m))
				}
			}
			// The server closes; the client answers.
			if err := sc.Close(4001, "bye"); err != nil {
				t.Fatal(err)
			}
			cerr := recv(t, got.closes, "client OnClose")
			serr := recv(t, srv.closes, "server OnClose")
			var ce, se *CloseError
			if !errors.As(cerr, &ce) || ce.Code != 4001 || ce.Reason != "bye" || !ce.Remote || ce.Err != nil {
				t.Fatalf("client OnClose: %v", cerr)
			}
			if !errors.As(serr, &se) || se.Code != 4001 || se.Remote || se.Err != nil {
				t.Fatalf("server OnClose: %v", serr)
			}
			if err := c.AsyncWriteMessage(OpText, []byte("late"), nil); err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("write after close: %v", err)
			}
		})
	}
}

func TestClientCloses(t *testing.T) {
	t.Parallel()
	srv := newRecorder(true)
	_, addr := serve(t, srv, nil)
	got := newRecorder(false)
	cl := newClient(t, got)
	c := dialWS(t, cl, "ws://"+addr)
	recv(t, srv.opens, "server OnOpen")
	if err := c.Close(StatusGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	serr := recv(t, srv.closes, "server OnClose")
	cerr := recv(t, got.closes, "client OnClose")
	if CloseStatus(serr) != StatusGoingAway || CloseStatus(cerr) != StatusGoingAway {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	if err := c.Close(StatusNormal, ""); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, newRecorder(true), []Option{WithAccept(func(u *Upgrade) error {
		return &Refusal{Status: 401, Reason: "who are you"}
	})})
	cl := newClient(t, newRecorder(false))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	_, err := cl.Dial(ctx, "ws://"+addr, nil)
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 401 || !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial: %v", err)
	}
	if _, err := cl.Dial(ctx, "http://"+addr, nil); err == nil {
		t.Fatal("Dial of an http URL worked")
	}
}

// TestDialBadAccept: a server answering 101 with the wrong accept key.
func TestDialBadAccept(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 4096)
		nc.Read(buf)
		nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
		nc.Read(buf)
	}()
	cl := newClient(t, newRecorder(false))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := cl.Dial(ctx, "ws://"+ln.Addr().String(), nil); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial: %v", err)
	}
	ln.Close()
	wg.Wait()
}

// TestKeepAlive: a peer that answers pings stays; one that goes silent
// is closed with ErrPongTimeout.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	h := newRecorder(true)
	_, addr := serve(t, h, []Option{WithPingInterval(30 * time.Millisecond)})
	r, _ := upgrade(t, addr, "")
	recv(t, h.opens, "OnOpen")
	for i := 0; i < 3; i++ {
		f, err := r.read()
		if err != nil || f.op != OpPing {
			t.Fatalf("ping %d: %v %v", i, f.op, err)
		}
		r.send(OpPong, f.p)
	}
	// Silent now: closed after two intervals, without a close frame.
	for {
		f, err := r.read()
		if err != nil {
			break
		}
		if f.op != OpPing {
			t.Fatalf("a %v frame", f.op)
		}
	}
	if err := recv(t, h.closes, "OnClose"); !errors.Is(err, ErrPongTimeout) || CloseStatus(err) != StatusAbnormal {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestShutdownSendsGoingAway: a server shutting down tells its clients.
func TestShutdownSendsGoingAway(t *testing.T) {
	t.Parallel()
	ws, err := NewServer(newRecorder(true))
	if err != nil {
		t.Fatal(err)
	}
	s, done := startServer(t, ws)
	got := newRecorder(false)
	cl := newClient(t, got)
	dialWS(t, cl, "ws://"+s.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, mill.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := recv(t, got.closes, "client OnClose"); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client OnClose: %v", err)
	}
}

// TestShutdownOneOfTwoServers: one Server serving two mill servers; the
// shutdown of one sends 1001 to its connections only, and the other
// serves on, old connections and new.
func TestShutdownOneOfTwoServers(t *testing.T) {
	t.Parallel()
	ws, err := NewServer(newRecorder(true))
	if err != nil {
		t.Fatal(err)
	}
	s1, done := startServer(t, ws)
	addr2 := serveHandler(t, ws)
	got := newRecorder(false)
	cl := newClient(t, got)
	dialWS(t, cl, "ws://"+s1.Addr().String())
	c2 := dialWS(t, cl, "ws://"+addr2)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, mill.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := recv(t, got.closes, "client OnClose"); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client OnClose: %v", err)
	}
	c3 := dialWS(t, cl, "ws://"+addr2)
	for _, c := range []*Conn{c2, c3} {
		if err := c.AsyncWriteMessage(OpText, []byte("still here"), nil); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, got.messages, "echo"); string(m.p) != "still here" {
			t.Fatalf("echo %q", m.p)
		}
	}
	select {
	case err := <-got.closes:
		t.Fatalf("a connection of the server still serving closed: %v", err)
	default:
	}
	if n := ws.Len(); n != 2 {
		t.Fatalf("Len %d, want 2", n)
	}
}

// requestOf dials url with header through a listener that records the
// upgrade request's head and refuses it with 403; it returns the head.
func requestOf(t *testing.T, url string, header http.Header) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heads := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			heads <- ""
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitBound))
		var head []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(head, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			head = append(head, buf[:n]...)
			if err != nil {
				break
			}
		}
		heads <- string(head)
		c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
	}()
	cl := newClient(t, newRecorder(false))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	url = strings.Replace(url, "ADDR", ln.Addr().String(), 1)
	var he *HandshakeError
	if _, err := cl.Dial(ctx, url, header); !errors.As(err, &he) || he.Status != 403 {
		t.Fatalf("Dial %s: %v, want the 403", url, err)
	}
	return recv(t, heads, "the request")
}

// TestDialRequestTarget: a query the URL left unescaped goes out
// percent-encoded (a space would break the request line); escapes and
// the path stay as they were.
func TestDialRequestTarget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, line string }{
		{"ws://ADDR/ws?a=b c", "GET /ws?a=b%20c HTTP/1.1"},
		{"ws://ADDR", "GET / HTTP/1.1"},
		{"ws://ADDR/a%20b/?x=%41&y=é|\"<>", "GET /a%20b/?x=%41&y=%C3%A9%7C%22%3C%3E HTTP/1.1"},
		{"ws://ADDR/?100%", "GET /?100%25 HTTP/1.1"},
		{"ws://ADDR/?", "GET /? HTTP/1.1"},
	} {
		head := requestOf(t, c.url, nil)
		if line, _, _ := strings.Cut(head, "\r\n"); line != c.line {
			t.Errorf("Dial %q sent %q, want %q", c.url, line, c.line)
		}
	}
}

// TestDialHeader: a Host field replaces the URL's host; the
// handshake's own fields and invalid fields fail the Dial, naming them.
func TestDialHeader(t *testing.T) {
	t.Parallel()
	head := requestOf(t, "ws://ADDR/", http.Header{"Host": {"chat.example:8080"}, "Origin": {"http://chat.example:8080"}})
	if !strings.Contains(head, "\r\nHost: chat.example:8080\r\n") || strings.Count(head, "Host:") != 1 ||
		!strings.Contains(head, "\r\nOrigin: http://chat.example:8080\r\n") {
		t.Fatalf("request:\n%s", head)
	}
	cl := newClient(t, newRecorder(false))
	for _, c := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"Sec-Websocket-Protocol": {"chat"}}, "WithSubprotocols"},
		{http.Header{"Connection": {"close"}}, "sets the Connection field itself"},
		{http.Header{"X-Bad": {"a\r\nInjected: 1"}}, "control character"},
		{http.Header{"Bad Name": {"x"}}, "not a token"},
		{http.Header{"Host": {"a", "b"}}, "Host field"},
		{http.Header{"Host": {"a b"}}, "Host field"},
	} {
		_, err := cl.Dial(context.Background(), "ws://127.0.0.1:1/", c.h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dial with %v: %v, want an error naming %q", c.h, err, c.want)
		}
	}
}

// TestDialResponseHeader: a refused dial's *HandshakeError carries the
// response's header fields; a successful one's Conn has the 101's.
func TestDialResponseHeader(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitBound))
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err == nil {
			c.Write([]byte("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\nRetry-After: 5\r\n" +
				"x-trace: a\r\nX-Trace: b\r\nContent-Length: 0\r\n\r\n"))
		}
	}()
	cl := newClient(t, newRecorder(false))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	_, err = cl.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 401 || he.Header.Get("Www-Authenticate") != `Bearer realm="chat"` ||
		he.Header.Get("Retry-After") != "5" || strings.Join(he.Header.Values("X-Trace"), ",") != "a,b" {
		t.Fatalf("Dial: %v (header %v)", err, he)
	}

	ws, err := NewServer(newRecorder(true), WithAccept(func(u *Upgrade) error {
		u.Header().Set("Set-Cookie", "session=42")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := dialWS(t, cl, "ws://"+serveHandler(t, ws))
	if got := c.ResponseHeader().Get("Set-Cookie"); got != "session=42" {
		t.Fatalf("ResponseHeader %v", c.ResponseHeader())
	}
	if h := c.ResponseHeader(); h.Get("Upgrade") != "websocket" || h.Get("Sec-Websocket-Accept") == "" {
		t.Fatalf("ResponseHeader %v", h)
	}
}
