package interop

// gorilla/websocket clients against a mill websocket server.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/mill-io/mill/websocket"
)

// dialGorilla dials url with d (nil: a default Dialer) and closes the
// connection when the test ends.
func dialGorilla(t *testing.T, d *gorilla.Dialer, url string, h http.Header) (*gorilla.Conn, *http.Response) {
	t.Helper()
	if d == nil {
		d = &gorilla.Dialer{HandshakeTimeout: waitBound}
	}
	c, resp, err := d.Dial(url, h)
	if err != nil {
		t.Fatalf("gorilla Dial %s: %v (response %v)", url, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(waitBound))
	return c, resp
}

// gorillaEcho sends p as a message of type mt and checks the echo.
func gorillaEcho(t *testing.T, c *gorilla.Conn, mt int, p []byte) {
	t.Helper()
	if err := c.WriteMessage(mt, p); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	gt, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(p), err)
	}
	if gt != mt || !bytes.Equal(got, p) {
		t.Fatalf("echo of %d bytes (type %d): got %d bytes (type %d)", len(p), mt, len(got), gt)
	}
}

func TestGorillaEchoSizes(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, nil, "ws://"+addr+"/echo", nil)
	for _, n := range sizes {
		gorillaEcho(t, c, gorilla.TextMessage, payload(n))
		gorillaEcho(t, c, gorilla.BinaryMessage, payload(n))
	}
}

func TestGorillaManyMessages(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, nil, "ws://"+addr+"/", nil)
	const n = 2000
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.WriteMessage(gorilla.TextMessage, fmt.Appendf(nil, "message %d", i)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if want := fmt.Sprintf("message %d", i); string(p) != want {
			t.Fatalf("message %d: got %q, want %q", i, p, want)
		}
	}
	if err := recv(t, errc, "writer end"); err != nil {
		t.Fatal(err)
	}
}

func TestGorillaFragmented(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, &gorilla.Dialer{HandshakeTimeout: waitBound, WriteBufferSize: 64}, "ws://"+addr+"/", nil)
	for _, mt := range []int{gorilla.TextMessage, gorilla.BinaryMessage} {
		w, err := c.NextWriter(mt)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for i := range 50 {
			part := payload(37 + i*11)
			want = append(want, part...)
			if _, err := w.Write(part); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		gt, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if gt != mt || !bytes.Equal(got, want) {
			t.Fatalf("fragmented message of %d bytes: echo has %d bytes, type %d", len(want), len(got), gt)
		}
		if m := recv(t, e.messages, "message on the server"); !bytes.Equal(m, want) {
			t.Fatalf("server got %d bytes, want %d", len(m), len(want))
		}
	}
}

func TestGorillaPingPong(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, nil, "ws://"+addr+"/", nil)
	pongs := make(chan string, 4)
	c.SetPongHandler(func(s string) error { pongs <- s; return nil })
	// The client pings: the server's pong comes before the echo of the
	// message sent after the ping.
	if err := c.WriteControl(gorilla.PingMessage, []byte("client-ping"), time.Now().Add(waitBound)); err != nil {
		t.Fatal(err)
	}
	gorillaEcho(t, c, gorilla.TextMessage, []byte("after ping"))
	select {
	case s := <-pongs:
		if s != "client-ping" {
			t.Fatalf("pong payload %q", s)
		}
	default:
		t.Fatal("no pong before the echo")
	}
	// The server pings: gorilla's default ping handler answers, and the
	// server's OnPong reports it.
	if err := c.WriteMessage(gorilla.TextMessage, []byte("ping:srv")); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(p) != "pong:srv" {
		t.Fatalf("got %q, want pong:srv", p)
	}
}

func TestGorillaServerCloses(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, nil, "ws://"+addr+"/", nil)
	if err := c.WriteMessage(gorilla.TextMessage, []byte("close:4001:bye")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	var ce *gorilla.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("gorilla read: %v, want CloseError 4001 bye", err)
	}
	// gorilla's default close handler answered; the server sees a clean
	// close with its own code.
	cerr := recv(t, e.closes, "server OnClose")
	if websocket.CloseStatus(cerr) != 4001 {
		t.Fatalf("server OnClose: %v", cerr)
	}
	var wce *websocket.CloseError
	if !errors.As(cerr, &wce) || wce.Err != nil {
		t.Fatalf("server OnClose: %v, want a clean close", cerr)
	}
}

func TestGorillaClientCloses(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialGorilla(t, nil, "ws://"+addr+"/", nil)
	gorillaEcho(t, c, gorilla.TextMessage, []byte("hello"))
	msg := gorilla.FormatCloseMessage(4000, "client bye")
	if err := c.WriteControl(gorilla.CloseMessage, msg, time.Now().Add(waitBound)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	var ce *gorilla.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 {
		t.Fatalf("gorilla read after close: %v, want the echoed CloseError 4000", err)
	}
	cerr := recv(t, e.closes, "server OnClose")
	var wce *websocket.CloseError
	if !errors.As(cerr, &wce) || wce.Code != 4000 || wce.Reason != "client bye" || !wce.Remote {
		t.Fatalf("server OnClose: %#v", cerr)
	}
}

func TestGorillaCompression(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil, websocket.WithCompression(websocket.Compression{Enabled: true, Threshold: -1}))
	d := &gorilla.Dialer{HandshakeTimeout: waitBound, EnableCompression: true}
	c, resp := dialGorilla(t, d, "ws://"+addr+"/", nil)
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if ext == "" {
		t.Fatal("permessage-deflate was not negotiated")
	}
	sc := recv(t, e.opens, "server OnOpen")
	if !sc.Compressed() {
		t.Fatalf("server Conn not Compressed (response extension %q)", ext)
	}
	c.EnableWriteCompression(true)
	for _, n := range sizes {
		gorillaEcho(t, c, gorilla.BinaryMessage, payload(n))
		gorillaEcho(t, c, gorilla.TextMessage, bytes.Repeat([]byte("compress me "), n/12+1))
	}
	c.EnableWriteCompression(false) // uncompressed messages on a compressed connection
	gorillaEcho(t, c, gorilla.TextMessage, payload(5000))
}

func TestGorillaSubprotocol(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil, websocket.WithSubprotocols("v2.mill", "v1.mill"))
	d := &gorilla.Dialer{HandshakeTimeout: waitBound, Subprotocols: []string{"other", "v1.mill", "v2.mill"}}
	c, _ := dialGorilla(t, d, "ws://"+addr+"/", nil)
	if got := c.Subprotocol(); got != "v2.mill" {
		t.Fatalf("gorilla Subprotocol %q, want the server's first choice v2.mill", got)
	}
	if got := recv(t, e.opens, "OnOpen").Subprotocol(); got != "v2.mill" {
		t.Fatalf("server Subprotocol %q", got)
	}
	d.Subprotocols = []string{"none-of-these"}
	c2, _ := dialGorilla(t, d, "ws://"+addr+"/", nil)
	if got := c2.Subprotocol(); got != "" {
		t.Fatalf("Subprotocol %q with no common one", got)
	}
}

func TestGorillaOriginRefused(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	d := &gorilla.Dialer{HandshakeTimeout: waitBound}
	_, resp, err := d.Dial("ws://"+addr+"/", http.Header{"Origin": {"https://evil.example"}})
	if !errors.Is(err, gorilla.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin dial: %v, %v; want 403", err, resp)
	}
	_ = resp.Body.Close()
	// Same origin is accepted.
	c, _ := dialGorilla(t, d, "ws://"+addr+"/", http.Header{"Origin": {"http://" + addr}})
	gorillaEcho(t, c, gorilla.TextMessage, []byte("same origin"))
}

func TestNonUpgradeGet426(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	cl := &http.Client{Timeout: waitBound, Transport: &http.Transport{DisableKeepAlives: true}}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if v := resp.Header.Get("Sec-WebSocket-Version"); v != "13" {
		t.Fatalf("Sec-WebSocket-Version %q", v)
	}
}

func TestGorillaWSS(t *testing.T) {
	cert, pool := selfSigned(t)
	e := newEcho()
	_, addr := serveMill(t, e, &cert)
	d := &gorilla.Dialer{HandshakeTimeout: waitBound, TLSClientConfig: &tls.Config{RootCAs: pool}}
	c, _ := dialGorilla(t, d, "wss://"+addr+"/", nil)
	for _, n := range []int{0, 100, 70000, 1 << 20} {
		gorillaEcho(t, c, gorilla.BinaryMessage, payload(n))
	}
	if err := c.WriteMessage(gorilla.TextMessage, []byte("close:1000:done")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if !gorilla.IsCloseError(err, gorilla.CloseNormalClosure) {
		t.Fatalf("read: %v, want a normal close", err)
	}
}
