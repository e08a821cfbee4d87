package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
	"github.com/mill-io/mill/internal/leaktest"
	"github.com/mill-io/mill/websocket"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// waitBound bounds every wait in these tests.
const waitBound = 20 * time.Second

// start serves the echo configured by cfg (two loops if cfg.loops is 0)
// on a free loopback port and returns the mill server; it is shut down
// when the test ends, unless the test did so itself.
func start(t testing.TB, cfg config) *mill.Server {
	t.Helper()
	if cfg.loops == 0 {
		cfg.loops = 2
	}
	s, err := newServer(cfg, "tcp://127.0.0.1:0", mill.WithLogger(zap.NewNop()))
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
	return s
}

// selfSigned returns a TLS configuration as -tls-self-signed makes it.
func selfSigned(t testing.TB) *tlsflag.Server {
	t.Helper()
	fs := flag.NewFlagSet("websocket", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil, "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// goClient is a websocket.Handler that hands every message and the
// close to channels.
type goClient struct {
	msgs   chan goMsg
	closed chan error
}

type goMsg struct {
	op websocket.Opcode
	p  []byte
}

func newGoClient() *goClient {
	return &goClient{msgs: make(chan goMsg, 64), closed: make(chan error, 1)}
}

func (*goClient) OnOpen(*websocket.Conn) {}

// OnMessage copies payload, which is valid only during the call.
func (g *goClient) OnMessage(_ *websocket.Conn, op websocket.Opcode, p []byte) {
	g.msgs <- goMsg{op, bytes.Clone(p)}
}

func (g *goClient) OnClose(_ *websocket.Conn, err error) { g.closed <- err }

// dial connects the package's own client to url; it is stopped when the
// test ends.
func dial(t *testing.T, g *goClient, url string, opts ...websocket.Option) *websocket.Conn {
	t.Helper()
	cl, err := websocket.NewClient(g, append([]websocket.Option{websocket.WithMillOptions(mill.WithLogger(zap.NewNop()))}, opts...)...)
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
	c, err := cl.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (g *goClient) next(t *testing.T) goMsg {
	t.Helper()
	select {
	case m := <-g.msgs:
		return m
	case err := <-g.closed:
		t.Fatalf("closed instead of a message: %v", err)
	case <-time.After(waitBound):
		t.Fatal("no message")
	}
	return goMsg{}
}

func (g *goClient) closeErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-g.closed:
		return err
	case <-time.After(waitBound):
		t.Fatal("not closed")
	}
	return nil
}

// TestGoClient echoes text and binary messages, plain and compressed, to
// the package's own client, and sees the close code of a shutdown.
func TestGoClient(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			s := start(t, config{deflate: deflate, maxMessage: defaults.maxMessage})
			g := newGoClient()
			var opts []websocket.Option
			if deflate {
				opts = append(opts, websocket.WithCompression(websocket.Compression{Enabled: true}))
			}
			c := dial(t, g, "ws://"+s.Addr().String()+"/any/path?q=1", opts...)
			if c.Compressed() != deflate {
				t.Fatalf("Compressed() = %v, want %v", c.Compressed(), deflate)
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			for _, m := range []goMsg{{websocket.OpText, []byte("héllo")}, {websocket.OpBinary, []byte{0, 1, 2, 255}},
				{websocket.OpBinary, nil}, {websocket.OpText, big}} {
				if err := c.AsyncWriteMessage(m.op, m.p, nil); err != nil {
					t.Fatal(err)
				}
				got := g.next(t)
				if got.op != m.op || !bytes.Equal(got.p, m.p) {
					t.Fatalf("echo of %v %d bytes: %v %d bytes", m.op, len(m.p), got.op, len(got.p))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := g.closeErr(t); websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Fatalf("after Shutdown: %v, want 1001", err)
			}
		})
	}
}

// TestGoClientTLS echoes over wss:// with the self-signed certificate.
func TestGoClientTLS(t *testing.T) {
	certs := selfSigned(t)
	s := start(t, config{maxMessage: defaults.maxMessage, tls: certs.Config()})
	g := newGoClient()
	roots := certPool(certs)
	c := dial(t, g, "wss://localhost:"+portOf(s)+"/", websocket.WithTLSConfig(roots))
	if err := c.AsyncWriteMessage(websocket.OpText, []byte("over TLS"), nil); err != nil {
		t.Fatal(err)
	}
	if m := g.next(t); string(m.p) != "over TLS" {
		t.Fatalf("echo %q", m.p)
	}
}

// TestMaxMessage closes with 1009 a message one byte over -max-message.
func TestMaxMessage(t *testing.T) {
	s := start(t, config{maxMessage: 1000})
	g := newGoClient()
	c := dial(t, g, "ws://"+s.Addr().String()+"/")
	if err := c.AsyncWriteMessage(websocket.OpBinary, make([]byte, 1000), nil); err != nil {
		t.Fatal(err)
	}
	if m := g.next(t); len(m.p) != 1000 {
		t.Fatalf("echo of %d bytes", len(m.p))
	}
	if err := c.AsyncWriteMessage(websocket.OpBinary, make([]byte, 1001), nil); err != nil {
		t.Fatal(err)
	}
	if err := g.closeErr(t); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("past the limit: %v, want 1009", err)
	}
}

// TestDeflateContextNeedsDeflate: -deflate-context alone is refused,
// naming the flag it needs.
func TestDeflateContextNeedsDeflate(t *testing.T) {
	_, err := newServer(config{context: true, maxMessage: defaults.maxMessage}, "tcp://127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "-deflate-context needs -deflate") {
		t.Fatalf("newServer: %v", err)
	}
}
