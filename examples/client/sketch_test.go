package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// This file runs the proxy sketch of docs/clients.md ("A proxy"): the
// code between the two marker lines below is the doc's, byte for byte
// (TestProxySketchMatchesDoc checks), so edit both together.

// ---- docs/clients.md, "A proxy": begin ----

// pair links an accepted (downstream) connection with the upstream
// connection dialled for it.
type pair struct {
	down     mill.Conn
	up       atomic.Value // mill.Conn, once the upstream is open
	downGone atomic.Bool
}

func (p *pair) upstream() mill.Conn {
	up, _ := p.up.Load().(mill.Conn)
	return up
}

// forward sends what from has buffered to to. It runs on from's loop.
// If to is closing, from goes too.
func forward(from, to mill.Conn) {
	b, _ := from.Next(-1)
	if len(b) > 0 && to.AsyncWrite(bytes.Clone(b), nil) != nil { // b is valid only until we return
		from.Close()
	}
}

// passFIN forwards what from still holds, then shuts to's sending side
// once that has gone out: from's peer sent its FIN. from's loop.
func passFIN(from, to mill.Conn) {
	forward(from, to)
	if to.CloseWrite() != nil {
		from.Close()
	}
}

// front serves the accepted side, on the server's loops.
type front struct {
	mill.BuiltinHandler
	cl       *mill.Client
	upstream string
}

func (f *front) OnOpen(down mill.Conn) ([]byte, mill.Action) {
	p := &pair{down: down}
	down.SetContext(p)
	down.PauseReading() // until the upstream is open
	if err := f.cl.DialAsync("tcp", f.upstream, p); err != nil {
		return nil, mill.Close
	}
	return nil, mill.None
}

func (f *front) OnTraffic(down mill.Conn) mill.Action {
	forward(down, down.Context().(*pair).upstream())
	return mill.None
}

func (f *front) OnHalfClose(down mill.Conn) mill.Action {
	passFIN(down, down.Context().(*pair).upstream())
	return mill.None
}

func (f *front) OnClose(down mill.Conn, err error) mill.Action {
	p := down.Context().(*pair)
	p.downGone.Store(true)
	if up := p.upstream(); up != nil && err != nil {
		up.Close()
	}
	return mill.None
}

// back serves the dialled side, on the client's loops.
type back struct{ mill.BuiltinHandler }

func (back) OnOpen(up mill.Conn) ([]byte, mill.Action) {
	p := up.Context().(*pair) // DialAsync's context
	p.up.Store(up)
	if p.downGone.Load() {
		return nil, mill.Close
	}
	// Let the downstream read, on its loop. If it has closed meanwhile,
	// fn still runs, but ResumeReading fails and there is no input.
	p.down.Do(func(down mill.Conn) {
		down.ResumeReading()
		forward(down, up)
	})
	return nil, mill.None
}

func (back) OnTraffic(up mill.Conn) mill.Action {
	forward(up, up.Context().(*pair).down)
	return mill.None
}

func (back) OnHalfClose(up mill.Conn) mill.Action {
	passFIN(up, up.Context().(*pair).down)
	return mill.None
}

// OnClose runs when the upstream closes, and also, without OnOpen, when
// the dial failed (with its error).
func (back) OnClose(up mill.Conn, err error) mill.Action {
	if err != nil {
		up.Context().(*pair).down.Close()
	}
	return mill.None
}

// listenProxy makes a proxy that listens on listen and dials upstream
// for each connection: serve it with srv.Serve(), stop it with
// srv.Shutdown, then cl.Stop.
func listenProxy(listen, upstream string) (*mill.Server, *mill.Client, error) {
	cl, err := mill.NewClient(back{}, mill.WithHalfOpen(true), mill.WithDialTimeout(5*time.Second))
	if err != nil {
		return nil, nil, err
	}
	if err := cl.Start(); err != nil {
		return nil, nil, err
	}
	srv, err := mill.NewServer(&front{cl: cl, upstream: upstream}, listen, mill.WithHalfOpen(true))
	if err != nil {
		cl.Stop(context.Background())
		return nil, nil, err
	}
	return srv, cl, nil
}

// ---- docs/clients.md, "A proxy": end ----

// sketchMarkers delimit the sketch's code in this file.
const (
	sketchBegin = "// ---- docs/clients.md, \"A proxy\": begin ----\n\n"
	sketchEnd   = "\n// ---- docs/clients.md, \"A proxy\": end ----\n"
)

// The sketch's code here is the doc's: the first Go block of the "A
// proxy" section of docs/clients.md.
func TestProxySketchMatchesDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/clients.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## A proxy\n")
	_, block, ok2 := strings.Cut(sec, "\n```go\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/clients.md: no Go block in a section \"## A proxy\"")
	}
	src, err := os.ReadFile("sketch_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, ok := strings.Cut(string(src), sketchBegin)
	code, _, ok2 = strings.Cut(code, sketchEnd)
	if !ok || !ok2 {
		t.Fatal("sketch_test.go: the sketch's markers are missing")
	}
	if code != block {
		t.Errorf("the proxy sketch in docs/clients.md and in sketch_test.go differ:\n--- doc\n%s\n--- test\n%s", block, code)
	}
}

// Issue 13, section 2: a client that sends, then shuts its sending side
// (printf 'x\n' | nc -N), gets the whole reply through the sketch, then
// EOF; 15 times.
func TestProxySketchHalfClose(t *testing.T) {
	srv, cl, err := listenProxy("tcp://127.0.0.1:0", startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("client stop: %v", err)
		}
	}()
	for i := range 15 {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("x\n")); err != nil {
			t.Fatalf("run %d: write: %v", i, err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if string(got) != "x\n" || err != nil {
			t.Fatalf("run %d: read %q, %v; want \"x\\n\", then EOF", i, got, err)
		}
	}
	// Both sides of every connection close by themselves.
	deadline := time.Now().Add(5 * time.Second)
	for srv.CountConnections() > 0 || cl.Stats().Total.Open > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d accepted and %d dialled connections still open", srv.CountConnections(), cl.Stats().Total.Open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := srv.Stats().Total; st.Closed.Clean != 15 {
		t.Errorf("accepted connections closed: %+v; want 15 clean", st.Closed)
	}
}
