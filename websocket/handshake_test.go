package websocket

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// TestUpgradeRefusals: every way an upgrade request can be wrong gets its
// status, and the connection closes after the response.
func TestUpgradeRefusals(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, newRecorder(true), []Option{WithHandshakeTimeout(200 * time.Millisecond)})
	good := func(mod func(string) string) string { return mod(upgradeRequest(addr, "")) }
	cases := []struct {
		name, req string
		status    string
		field     string
	}{
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "426", "Upgrade: websocket"},
		{"POST", good(func(s string) string { return strings.Replace(s, "GET", "POST", 1) }), "405", "Allow: GET"},
		{"HTTP/1.0", good(func(s string) string { return strings.Replace(s, "HTTP/1.1", "HTTP/1.0", 1) }), "400", ""},
		{"no Connection", good(func(s string) string { return strings.Replace(s, "Connection: Upgrade\r\n", "", 1) }), "400", ""},
		{"version 8", good(func(s string) string { return strings.Replace(s, "Version: 13", "Version: 8", 1) }), "426", "Sec-Websocket-Version: 13"},
		{"two versions", good(func(s string) string {
			return strings.Replace(s, "Version: 13\r\n", "Version: 13\r\nSec-WebSocket-Version: 13\r\n", 1)
		}), "426", ""},
		{"short key", good(func(s string) string { return strings.Replace(s, testKey, "dGhlIHNhbXBsZQ==", 1) }), "400", ""},
		{"key not base64", good(func(s string) string { return strings.Replace(s, testKey, "dGhlIHNhbXBsZSBub25jZQ!!", 1) }), "400", ""},
		{"no key", good(func(s string) string { return strings.Replace(s, "Sec-WebSocket-Key: "+testKey+"\r\n", "", 1) }), "400", ""},
		{"body", good(func(s string) string {
			return strings.Replace(s, "\r\n\r\n", "\r\nContent-Length: 2\r\n\r\nhi", 1)
		}), "400", ""},
		{"cross origin", good(func(s string) string {
			return strings.Replace(s, "\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n", 1)
		}), "403", ""},
		{"malformed", "GET / HTTP/1.1\r\nHost x\r\n\r\n", "400", ""},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", "408", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t, addr, tc.req)
			head := r.head()
			if !strings.HasPrefix(head, "HTTP/1.1 "+tc.status+" ") || !strings.Contains(head, "Connection: close\r\n") {
				t.Fatalf("answered %q, want %s", head, tc.status)
			}
			if tc.field != "" && !strings.Contains(head, tc.field+"\r\n") {
				t.Fatalf("answered %q, want a field %q", head, tc.field)
			}
			var rest bytes.Buffer
			if _, err := rest.ReadFrom(r.br); err != nil && !isReset(err) {
				t.Fatalf("after the response: %v", err)
			}
		})
	}
}

// TestSameOriginAndHooks: the Origin check's default, and a WithAccept
// hook choosing the subprotocol, adding a field and a context value.
func TestSameOriginAndHooks(t *testing.T) {
	t.Parallel()
	h := newRecorder(false)
	_, addr := serve(t, h, []Option{WithSubprotocols("a"), WithAccept(func(u *Upgrade) error {
		if string(u.Request.Header("authorization")) != "Bearer ok" {
			return &Refusal{Status: 401, Reason: "no", Header: map[string][]string{"Www-Authenticate": {"Bearer"}}}
		}
		u.SetProtocol("b")
		u.Header().Set("Set-Cookie", "s=1")
		u.Header().Set("X-Bad", "a\r\nInjected: 1")
		u.SetContext("user-7")
		return nil
	})})
	r := dialRaw(t, addr, upgradeRequest(addr, "Origin: http://"+addr+"\r\nSec-WebSocket-Protocol: a, b\r\n"))
	if head := r.head(); !strings.HasPrefix(head, "HTTP/1.1 401 ") || !strings.Contains(head, "Www-Authenticate: Bearer\r\n") {
		t.Fatalf("answered %q", head)
	}
	_, head := upgrade(t, addr, "Origin: http://"+addr+"\r\nSec-WebSocket-Protocol: a, b\r\nAuthorization: Bearer ok\r\n")
	if !strings.Contains(head, "Sec-WebSocket-Protocol: b\r\n") || !strings.Contains(head, "Set-Cookie: s=1\r\n") || strings.Contains(head, "Injected") {
		t.Fatalf("answered %q", head)
	}
	if c := recv(t, h.opens, "OnOpen"); c.Context() != "user-7" || c.Subprotocol() != "b" {
		t.Fatalf("Context %v Subprotocol %q", c.Context(), c.Subprotocol())
	}
}

// httpAndWS is an HTTP server with a WebSocket endpoint on the same
// port: GET /hello answers, GET /ws upgrades.
type httpAndWS struct {
	mill.BuiltinHandler
	ws *Server
}

func (h *httpAndWS) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(http1.NewCodec(http1.Limits{}))
	return nil, mill.None
}

func (h *httpAndWS) OnTraffic(c mill.Conn) mill.Action {
	if h.ws.Owns(c) {
		return h.ws.OnTraffic(c)
	}
	codec, ok := c.Context().(*http1.Codec)
	if !ok {
		return mill.Close
	}
	for {
		in, _ := c.Peek(-1)
		n, err := codec.Parse(in)
		if err != nil || n == 0 {
			if err != nil {
				return mill.Close
			}
			return mill.None
		}
		if string(codec.Req.Path) == "/ws" {
			return h.ws.Upgrade(c, &codec.Req, n)
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
		c.Discard(n)
	}
}

func (h *httpAndWS) OnClose(c mill.Conn, err error) mill.Action { return h.ws.OnClose(c, err) }

// TestUpgradeBesideHTTP: HTTP routes and a WebSocket endpoint on one
// port; a keep-alive connection serves HTTP, then upgrades, with frames
// sent in the same segment as the request.
func TestUpgradeBesideHTTP(t *testing.T) {
	t.Parallel()
	rec := newRecorder(true)
	ws, err := NewServer(rec)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHandler(t, &httpAndWS{ws: ws})
	req := "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Replace(upgradeRequest(addr, ""), "/chat", "/ws", 1)
	r := dialRaw(t, addr, req+string(frameBytes(rawFrame{fin: true, op: OpText, masked: true, p: []byte("early")})))
	if head := r.head(); !strings.HasPrefix(head, "HTTP/1.1 200 ") {
		t.Fatalf("first response %q", head)
	}
	body := make([]byte, 5)
	if _, err := r.br.Read(body); err != nil || string(body) != "hello" {
		t.Fatalf("body %q %v", body, err)
	}
	if head := r.head(); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade response %q", head)
	}
	r.expect(OpText, []byte("early"))
	r.send(OpClose, nil)
	r.expectClose(StatusNoStatus)
	if err := recv(t, rec.closes, "OnClose"); CloseStatus(err) != StatusNoStatus || !errors.As(err, new(*CloseError)) {
		t.Fatalf("OnClose: %v", err)
	}
}

// misusedUpgrade calls Upgrade with a length Parse did not return.
type misusedUpgrade struct {
	mill.BuiltinHandler
	ws *Server
}

func (m *misusedUpgrade) OnTraffic(c mill.Conn) mill.Action {
	return m.ws.Upgrade(c, nil, 0)
}

// TestUpgradeMisuse: Upgrade without a parsed request answers 500 and
// closes, without a panic.
func TestUpgradeMisuse(t *testing.T) {
	t.Parallel()
	ws, err := NewServer(newRecorder(false))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHandler(t, &misusedUpgrade{ws: ws})
	r := dialRaw(t, addr, upgradeRequest(addr, ""))
	if head := r.head(); !strings.HasPrefix(head, "HTTP/1.1 500 ") {
		t.Fatalf("answered %q", head)
	}
}

// lateUpgrade is httpAndWS whose OnTraffic holds the upgrade request
// until the server's OnShutdown has run: the upgrade completes after the
// server told every connection it was going away.
type lateUpgrade struct {
	httpAndWS
	arrived  chan struct{}
	shut     chan struct{}
	timedOut atomic.Bool // OnShutdown did not run in time: the test is void
}

func (h *lateUpgrade) OnTraffic(c mill.Conn) mill.Action {
	if !h.ws.Owns(c) {
		h.arrived <- struct{}{}
		select {
		case <-h.shut:
		case <-time.After(waitBound):
			h.timedOut.Store(true)
		}
	}
	return h.httpAndWS.OnTraffic(c)
}

func (h *lateUpgrade) OnShutdown(s *mill.Server) {
	h.ws.OnShutdown(s)
	close(h.shut)
}

// TestUpgradeDuringShutdown: a connection whose upgrade completes after
// OnShutdown sent everyone 1001 still gets its 1001 close frame, rather
// than a connection closed without one (the CI failure of
// examples/websocket's TestPythonShutdown, made deterministic).
func TestUpgradeDuringShutdown(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	ws, err := NewServer(rec)
	if err != nil {
		t.Fatal(err)
	}
	h := &lateUpgrade{httpAndWS: httpAndWS{ws: ws}, arrived: make(chan struct{}, 1), shut: make(chan struct{})}
	s, done := startServer(t, h)
	addr := s.Addr().String()
	r := dialRaw(t, addr, strings.Replace(upgradeRequest(addr, ""), "/chat", "/ws", 1))
	recv(t, h.arrived, "the upgrade request")
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if head := r.head(); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade response %q", head)
	}
	recv(t, rec.opens, "OnOpen")
	r.expectClose(StatusGoingAway)
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "Serve"); !errors.Is(err, mill.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := recv(t, rec.closes, "OnClose"); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("OnClose: %v", err)
	}
	if h.timedOut.Load() {
		t.Fatal("OnShutdown had not run when the upgrade went on: the late upgrade was not tested")
	}
}

// TestSameOrigin: the default Origin check compares host names in any
// case and without a trailing dot, and ports with the Origin scheme's
// default standing in for a missing one.
func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "example.com", true}, // no Origin field: not a browser
		{"http://example.com", "example.com", true},
		{"http://example.com", "example.com:80", true},
		{"http://example.com:80", "example.com", true},
		{"https://example.com", "example.com:443", true},
		{"https://Example.COM.", "example.com", true},
		{"http://example.com", "example.com.:80", true},
		{"http://[::1]:8080", "[::1]:8080", true},
		{"http://[::1]", "[::1]", true},
		{"http://example.com", "example.com:8080", false},
		{"http://example.com:8080", "example.com", false},
		{"https://example.com", "example.com:80", false},
		{"http://evil.example", "example.com", false},
		{"http://example.com.evil", "example.com", false},
		{"null", "example.com", false},
		{"chrome-extension://abc", "abc", false},
		{"http://user@example.com", "example.com", false},
	} {
		r := &http1.Request{Host: []byte(c.host)}
		if c.origin != "" {
			r.Headers = []http1.Header{{Name: []byte("Origin"), Value: []byte(c.origin)}}
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("Origin %q, Host %q: %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}
