package interop

// mill's websocket client against a gorilla/websocket server on
// net/http, and against mill's own server.

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	gorilla "github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/websocket"
)

// clientRec is a client-side Handler that records what it hears.
type clientRec struct {
	opens    chan *websocket.Conn
	messages chan received
	closes   chan error
}

// received is one message a clientRec heard, with its connection.
type received struct {
	c  *websocket.Conn
	op websocket.Opcode
	p  []byte
}

func newClientRec() *clientRec {
	return &clientRec{opens: make(chan *websocket.Conn, 512), messages: make(chan received, 8192),
		closes: make(chan error, 512)}
}

// OnOpen records c. Loop goroutine.
func (r *clientRec) OnOpen(c *websocket.Conn) { r.opens <- c }

// OnMessage records a copy of p. Loop goroutine.
func (r *clientRec) OnMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	r.messages <- received{c, op, append([]byte(nil), p...)}
}

// OnClose records err. Loop goroutine.
func (r *clientRec) OnClose(c *websocket.Conn, err error) { r.closes <- err }

// gorillaServer serves WebSocket with gorilla's Upgrader u over
// net/http (TLS when tls is set): it echoes, and the text message
// "close-me" makes it close with 4003 "srv bye". Each handler's end is
// reported on ended.
func gorillaServer(t *testing.T, u *gorilla.Upgrader, tls bool) (srv *httptest.Server, ended chan error) {
	t.Helper()
	ended = make(chan error, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered with an error status
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				ended <- err
				return
			}
			if mt == gorilla.TextMessage && string(p) == "close-me" {
				_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(4003, "srv bye"))
				continue // read the client's answer
			}
			if err := c.WriteMessage(mt, p); err != nil {
				ended <- err
				return
			}
		}
	})
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused TLS handshakes are expected
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, ended
}

// wsURL turns an httptest URL into a WebSocket one.
func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

// millEcho writes p from the loop of c and checks the echo.
func millEcho(t *testing.T, r *clientRec, c *websocket.Conn, op websocket.Opcode, p []byte) {
	t.Helper()
	if err := c.AsyncWriteMessage(op, p, nil); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	m := recv(t, r.messages, "echo")
	if m.op != op || !bytes.Equal(m.p, p) {
		t.Fatalf("echo of %d bytes (%v): got %d bytes (%v)", len(p), op, len(m.p), m.op)
	}
}

func TestMillClientGorillaEcho(t *testing.T) {
	srv, _ := gorillaServer(t, &gorilla.Upgrader{}, false)
	r := newClientRec()
	cl := newMillClient(t, r)
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/echo?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		millEcho(t, r, c, websocket.OpText, payload(n))
		millEcho(t, r, c, websocket.OpBinary, payload(n))
	}
	_ = c.Close(websocket.StatusNormal, "")
	recv(t, r.closes, "OnClose")
}

func TestMillClientGorillaCompression(t *testing.T) {
	srv, _ := gorillaServer(t, &gorilla.Upgrader{EnableCompression: true}, false)
	r := newClientRec()
	cl := newMillClient(t, r, websocket.WithCompression(websocket.Compression{Enabled: true, Threshold: -1}))
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Compressed() {
		t.Fatal("permessage-deflate was not negotiated with gorilla's server")
	}
	for _, n := range sizes {
		millEcho(t, r, c, websocket.OpBinary, payload(n))
		millEcho(t, r, c, websocket.OpText, bytes.Repeat([]byte("squeeze "), n/8+1))
	}
}

func TestMillClientGorillaCloseByServer(t *testing.T) {
	srv, ended := gorillaServer(t, &gorilla.Upgrader{}, false)
	r := newClientRec()
	cl := newMillClient(t, r)
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	millEcho(t, r, c, websocket.OpText, []byte("hi"))
	if err := c.AsyncWriteMessage(websocket.OpText, []byte("close-me"), nil); err != nil {
		t.Fatal(err)
	}
	cerr := recv(t, r.closes, "client OnClose")
	var ce *websocket.CloseError
	if !errors.As(cerr, &ce) || ce.Code != 4003 || ce.Reason != "srv bye" || !ce.Remote {
		t.Fatalf("client OnClose: %#v", cerr)
	}
	// gorilla saw our answer to its close frame.
	if err := recv(t, ended, "server handler end"); !gorilla.IsCloseError(err, 4003) {
		t.Fatalf("gorilla server: %v, want our echoed close 4003", err)
	}
}

func TestMillClientGorillaCloseByClient(t *testing.T) {
	srv, ended := gorillaServer(t, &gorilla.Upgrader{}, false)
	r := newClientRec()
	cl := newMillClient(t, r)
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(4004, "cli bye"); err != nil {
		t.Fatal(err)
	}
	err = recv(t, ended, "server handler end")
	var gce *gorilla.CloseError
	if !errors.As(err, &gce) || gce.Code != 4004 || gce.Text != "cli bye" {
		t.Fatalf("gorilla server: %v", err)
	}
	cerr := recv(t, r.closes, "client OnClose")
	var ce *websocket.CloseError
	if !errors.As(cerr, &ce) || ce.Code != 4004 || ce.Remote || ce.Err != nil {
		t.Fatalf("client OnClose: %#v, want our clean 4004", cerr)
	}
}

func TestMillClientGorillaSubprotocol(t *testing.T) {
	srv, _ := gorillaServer(t, &gorilla.Upgrader{Subprotocols: []string{"b.v1", "a.v1"}}, false)
	r := newClientRec()
	cl := newMillClient(t, r, websocket.WithSubprotocols("a.v1", "b.v1"))
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "b.v1" {
		t.Fatalf("Subprotocol %q, want gorilla's choice b.v1", c.Subprotocol())
	}
	millEcho(t, r, c, websocket.OpText, []byte("x"))
}

func TestMillClientGorillaWSS(t *testing.T) {
	srv, _ := gorillaServer(t, &gorilla.Upgrader{}, true)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	r := newClientRec()
	cl := newMillClient(t, r, websocket.WithTLSConfig(newTLSConfig(pool)))
	c, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, 70000, 1 << 20} {
		millEcho(t, r, c, websocket.OpBinary, payload(n))
	}
	// Without the pool the certificate is not trusted.
	cl2 := newMillClient(t, newClientRec(), websocket.WithMillOptions(mill.WithLogger(zap.NewNop())))
	if _, err := cl2.Dial(ctxT(t), wsURL(srv.URL)+"/", nil); err == nil {
		t.Fatal("wss dial with an untrusted certificate succeeded")
	}
}

func TestMillClientRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no you don't", http.StatusUnauthorized)
	}))
	defer srv.Close()
	cl := newMillClient(t, newClientRec())
	_, err := cl.Dial(ctxT(t), wsURL(srv.URL)+"/", nil)
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || !errors.Is(err, websocket.ErrHandshake) {
		t.Fatalf("Dial: %v, want a HandshakeError with status 401", err)
	}
}

func TestMillClientBadAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = fmt.Fprint(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		_, _ = br.ReadByte() // until the client hangs up
	})
	cl := newMillClient(t, newClientRec())
	_, err = cl.Dial(ctxT(t), "ws://"+ln.Addr().String()+"/", nil)
	var he *websocket.HandshakeError
	if !errors.Is(err, websocket.ErrHandshake) || !errors.As(err, &he) || he.Status != 101 {
		t.Fatalf("Dial: %v, want ErrHandshake for the bad Sec-WebSocket-Accept", err)
	}
}

func TestMillAsyncWritersOrdered(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	r := newClientRec()
	cl := newMillClient(t, r)
	c, err := cl.Dial(ctxT(t), "ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := c.AsyncWriteMessage(websocket.OpText, fmt.Appendf(nil, "%d:%d", w, i), nil); err != nil {
					t.Errorf("AsyncWriteMessage: %v", err)
					return
				}
			}
		})
	}
	next := make([]int, writers)
	for range writers * each {
		m := recv(t, r.messages, "echo")
		var w, i int
		if _, err := fmt.Sscanf(string(m.p), "%d:%d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("bad echo %q", m.p)
		}
		if i != next[w] {
			t.Fatalf("writer %d: message %d came when %d was due", w, i, next[w])
		}
		next[w]++
	}
	wg.Wait()
}

func TestMillBroadcast200(t *testing.T) {
	e := newEcho()
	ws, addr := serveMill(t, e, nil)
	r := newClientRec()
	cl := newMillClient(t, r)
	const clients, msgs = 200, 5
	conns := make(map[*websocket.Conn]int, clients)
	for range clients {
		c, err := cl.Dial(ctxT(t), "ws://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		conns[c] = 0
	}
	for range clients {
		recv(t, e.opens, "server OnOpen")
	}
	if n := ws.Len(); n != clients {
		t.Fatalf("server has %d connections, want %d", n, clients)
	}
	for i := range msgs {
		pm, err := websocket.NewPrepared(websocket.OpText, fmt.Appendf(nil, "broadcast %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if n := ws.Broadcast(pm); n != clients {
			t.Fatalf("Broadcast submitted %d writes, want %d", n, clients)
		}
	}
	for range clients * msgs {
		m := recv(t, r.messages, "broadcast message")
		next, ok := conns[m.c]
		if !ok {
			t.Fatal("message on an unknown connection")
		}
		if want := fmt.Sprintf("broadcast %d", next); string(m.p) != want {
			t.Fatalf("got %q, want %q", m.p, want)
		}
		conns[m.c] = next + 1
	}
	if n := ws.CloseAll(websocket.StatusGoingAway, "bye all"); n != clients {
		t.Fatalf("CloseAll asked %d, want %d", n, clients)
	}
	for range clients {
		if err := recv(t, r.closes, "client OnClose"); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("client OnClose: %v", err)
		}
	}
}
