package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// start serves a fresh server on a free port for the test and returns
// its address and handler. Timeouts and the connection cap left zero in
// cfg get the command's defaults. extra options come last.
func start(t testing.TB, cfg Config, extra ...mill.Option) (string, *server) {
	t.Helper()
	s, h := startServer(t, cfg, extra...)
	return s.Addr().String(), h
}

// startServer is start that returns the server.
func startServer(t testing.TB, cfg Config, extra ...mill.Option) (*mill.Server, *server) {
	t.Helper()
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	s, h, err := newServer("127.0.0.1:0", cfg, append([]mill.Option{mill.WithLoops(2)}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, h
}

// rawConn is a RESP client over plain TCP that checks exact bytes.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(p string) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(rc.c, p); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// expect reads exactly len(want) bytes and compares them with want.
func (rc *rawConn) expect(req, want string) {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	n, err := io.ReadFull(rc.r, got)
	if err != nil || string(got) != want {
		rc.t.Fatalf("%q:\n got %q (%v)\nwant %q", req, got[:n], err, want)
	}
}

// do sends req and checks the reply bytes.
func (rc *rawConn) do(req, want string) {
	rc.t.Helper()
	rc.send(req)
	rc.expect(req, want)
}

// expectEOF checks that the server closed the connection, with nothing
// more to read.
func (rc *rawConn) expectEOF() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(rc.r)
	if len(rest) > 0 || err != nil {
		rc.t.Fatalf("after close: read %q, %v; want EOF", rest, err)
	}
}

// cmd encodes args as a RESP array of bulk strings.
func cmd(args ...string) string {
	b := appendArray(nil, len(args))
	for _, a := range args {
		b = appendBulkString(b, a)
	}
	return string(b)
}

// readReply reads one RESP reply (any type, nested) and returns its bytes.
func readReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || !bytes.HasSuffix(line, []byte("\r\n")) {
		return line, errors.New("bad reply line " + strconv.Quote(string(line)))
	}
	n, _ := strconv.Atoi(string(line[1 : len(line)-2]))
	switch line[0] {
	case '$':
		if n < 0 {
			return line, nil
		}
		body := make([]byte, n+2)
		_, err := io.ReadFull(r, body)
		return append(line, body...), err
	case '*':
		for range max(n, 0) {
			el, err := readReply(r)
			line = append(line, el...)
			if err != nil {
				return line, err
			}
		}
	}
	return line, nil
}

// tool finds one of the redis-tools binaries, or skips the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed (MILL_REQUIRE_TOOLS is set): apt-get install redis-tools", name)
		}
		t.Skipf("%s not installed: apt-get install redis-tools", name)
	}
	return p
}
