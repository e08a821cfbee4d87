package interop

// coder/websocket clients against a mill websocket server.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	coder "github.com/coder/websocket"

	"github.com/mill-io/mill/websocket"
)

// dialCoder dials url and closes the connection when the test ends.
func dialCoder(t *testing.T, url string, o *coder.DialOptions) (*coder.Conn, *http.Response) {
	t.Helper()
	c, resp, err := coder.Dial(ctxT(t), url, o)
	if err != nil {
		t.Fatalf("coder Dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(4 << 20)
	return c, resp
}

// coderEcho sends p as a message of type mt and checks the echo.
func coderEcho(t *testing.T, c *coder.Conn, mt coder.MessageType, p []byte) {
	t.Helper()
	ctx := ctxT(t)
	if err := c.Write(ctx, mt, p); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	gt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(p), err)
	}
	if gt != mt || !bytes.Equal(got, p) {
		t.Fatalf("echo of %d bytes (%v): got %d bytes (%v)", len(p), mt, len(got), gt)
	}
}

func TestCoderEchoSizes(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	for _, n := range sizes {
		coderEcho(t, c, coder.MessageText, payload(n))
		coderEcho(t, c, coder.MessageBinary, payload(n))
	}
	if err := c.Close(coder.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cerr := recv(t, e.closes, "server OnClose")
	if websocket.CloseStatus(cerr) != websocket.StatusNormal {
		t.Fatalf("server OnClose: %v", cerr)
	}
}

func TestCoderFragmented(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	ctx := ctxT(t)
	w, err := c.Writer(ctx, coder.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 40 {
		part := payload(100 + i*300)
		want = append(want, part...)
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo of a %d-byte streamed message: %d bytes, %v", len(want), len(got), err)
	}
}

func TestCoderCloseCodes(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	// Server-initiated.
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	ctx := ctxT(t)
	if err := c.Write(ctx, coder.MessageText, []byte("close:4001:bye")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	var ce coder.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("coder read: %v, want close 4001 bye", err)
	}
	if cerr := recv(t, e.closes, "server OnClose"); websocket.CloseStatus(cerr) != 4001 {
		t.Fatalf("server OnClose: %v", cerr)
	}
	// Client-initiated: coder waits for the server's answer in Close.
	c2, _ := dialCoder(t, "ws://"+addr+"/", nil)
	coderEcho(t, c2, coder.MessageText, []byte("hi"))
	if err := c2.Close(4002, "client bye"); err != nil {
		t.Fatalf("coder Close: %v", err)
	}
	cerr := recv(t, e.closes, "server OnClose")
	var wce *websocket.CloseError
	if !errors.As(cerr, &wce) || wce.Code != 4002 || wce.Reason != "client bye" || !wce.Remote {
		t.Fatalf("server OnClose: %#v", cerr)
	}
}

func TestCoderPing(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	ctx := ctxT(t)
	// coder needs a concurrent reader to see pongs.
	got := make(chan string, 4)
	go func() {
		for {
			_, p, err := c.Read(ctx)
			if err != nil {
				close(got)
				return
			}
			got <- string(p)
		}
	}()
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
	// A server ping is answered by coder's reader.
	if err := c.Write(ctx, coder.MessageText, []byte("ping:x")); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got, "pong report"); s != "pong:x" {
		t.Fatalf("got %q", s)
	}
	_ = c.Close(coder.StatusNormalClosure, "")
	for range got {
	}
}

func TestCoderCompression(t *testing.T) {
	for _, mode := range []struct {
		name string
		mode coder.CompressionMode
	}{
		{"ContextTakeover", coder.CompressionContextTakeover},
		{"NoContextTakeover", coder.CompressionNoContextTakeover},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for _, srvCtx := range []bool{false, true} {
				t.Run(fmt.Sprintf("server-context-%v", srvCtx), func(t *testing.T) {
					e := newEcho()
					_, addr := serveMill(t, e, nil, websocket.WithCompression(websocket.Compression{
						Enabled: true, Threshold: -1, ContextTakeover: srvCtx}))
					c, resp := dialCoder(t, "ws://"+addr+"/", &coder.DialOptions{
						CompressionMode: mode.mode, CompressionThreshold: 1})
					ext := resp.Header.Get("Sec-WebSocket-Extensions")
					if !strings.HasPrefix(ext, "permessage-deflate") {
						t.Fatalf("not negotiated: %q", ext)
					}
					if !recv(t, e.opens, "OnOpen").Compressed() {
						t.Fatal("server Conn not Compressed")
					}
					// Similar messages in a row: with context takeover
					// the later ones refer back to the earlier ones.
					for i := range 20 {
						coderEcho(t, c, coder.MessageText, fmt.Appendf(nil, "similar message number %d %s", i, strings.Repeat("ab", i)))
					}
					for _, n := range sizes {
						coderEcho(t, c, coder.MessageBinary, payload(n))
					}
				})
			}
		})
	}
}

func TestCoderConcurrentWriters(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	ctx := ctxT(t)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := c.Write(ctx, coder.MessageText, fmt.Appendf(nil, "%d:%d", w, i)); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	next := make([]int, writers)
	for range writers * each {
		_, p, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p), "%d:%d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("bad echo %q", p)
		}
		if i != next[w] {
			t.Fatalf("writer %d: got message %d, want %d", w, i, next[w])
		}
		next[w]++
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestCoderReadLimit(t *testing.T) {
	e := newEcho()
	_, addr := serveMill(t, e, nil)
	c, _ := dialCoder(t, "ws://"+addr+"/", nil)
	c.SetReadLimit(1000)
	coderEcho(t, c, coder.MessageBinary, payload(1000))
	ctx := ctxT(t)
	if err := c.Write(ctx, coder.MessageBinary, payload(1001)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("read of a message over the limit succeeded")
	}
	// coder fails the connection with 1009; the server sees that.
	cerr := recv(t, e.closes, "server OnClose")
	if websocket.CloseStatus(cerr) != websocket.StatusMessageTooBig {
		t.Fatalf("server OnClose: %v, want 1009", cerr)
	}
}

func TestCoderSubprotocolAndWSS(t *testing.T) {
	cert, pool := selfSigned(t)
	e := newEcho()
	_, addr := serveMill(t, e, &cert, websocket.WithSubprotocols("chat"))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c, _ := dialCoder(t, "wss://"+addr+"/", &coder.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, Subprotocols: []string{"x", "chat"}})
	if c.Subprotocol() != "chat" {
		t.Fatalf("Subprotocol %q", c.Subprotocol())
	}
	for _, n := range []int{0, 1, 70000, 1 << 20} {
		coderEcho(t, c, coder.MessageBinary, payload(n))
	}
	if err := c.Close(coder.StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
