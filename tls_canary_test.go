//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// The crypto/tls behaviours mill's TLS rests on (see tls_wire.go and
// docs/tls.md). A Go release that changes one of them fails here first,
// by name, rather than as a connection that hangs or loses bytes.

// scriptConn is a net.Conn over in-memory buffers whose Read returns
// errWouldBlock when nothing is buffered (or, when blockErr is set,
// that error).
type scriptConn struct {
	mu       sync.Mutex
	in, out  []byte
	blockErr error
}

func (s *scriptConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.in) == 0 {
		if s.blockErr != nil {
			return 0, s.blockErr
		}
		return 0, errWouldBlock
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	return n, nil
}

func (s *scriptConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, p...)
	return len(p), nil
}

func (s *scriptConn) feed(b []byte) {
	s.mu.Lock()
	s.in = append(s.in, b...)
	s.mu.Unlock()
}

func (s *scriptConn) drain() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.out
	s.out = nil
	return b
}

func (*scriptConn) Close() error                     { return nil }
func (*scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (*scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (*scriptConn) SetDeadline(time.Time) error      { return nil }
func (*scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (*scriptConn) SetWriteDeadline(time.Time) error { return nil }

// establishedPair runs a real handshake between a crypto/tls client and
// server over net.Pipe, then re-homes the server on a scriptConn. It
// returns the client, the server, the script, and the pipe end the
// server no longer reads, from which the test takes the client's
// records itself.
func establishedPair(t *testing.T) (client, server *tls.Conn, sc *scriptConn, raw net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	sc = &scriptConn{}
	sw := &switchConn{Conn: b}
	cfg := tlsServerConfig(t)
	cfg.SessionTicketsDisabled = true // nothing after the handshake but what the test sends
	server = tls.Server(sw, cfg)
	client = tls.Client(a, tlsClientConfig(t))
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	sw.mu.Lock()
	sw.script = sc
	sw.mu.Unlock()
	return client, server, sc, b
}

// switchConn is a net.Conn that forwards to Conn until script is set.
type switchConn struct {
	net.Conn
	mu     sync.Mutex
	script *scriptConn
}

func (s *switchConn) cur() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.script != nil {
		return s.script
	}
	return s.Conn
}
func (s *switchConn) Read(p []byte) (int, error)  { return s.cur().Read(p) }
func (s *switchConn) Write(p []byte) (int, error) { return s.cur().Write(p) }

// record has client write p and returns the one record it makes, read
// off the raw pipe end.
func record(t *testing.T, client *tls.Conn, raw net.Conn, p []byte) []byte {
	t.Helper()
	errc := make(chan error, 1)
	go func() { _, err := client.Write(p); errc <- err }()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(raw, head); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(raw, body); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return append(head, body...)
}

// TestCanaryTemporaryReadErrorIsNotSticky: after a Read that met a
// temporary net.Error halfway through a record, the next Read resumes
// and returns the record's plaintext.
func TestCanaryTemporaryReadErrorIsNotSticky(t *testing.T) {
	client, server, sc, raw := establishedPair(t)
	buf := make([]byte, 64)
	for cut := 1; ; cut += 3 {
		rec := record(t, client, raw, []byte("hello, loop"))
		if cut >= len(rec) {
			sc.feed(rec) // keep the sequence numbers in step
			if n, err := server.Read(buf); err != nil || n != len("hello, loop") {
				t.Fatalf("whole record: Read = %d, %v", n, err)
			}
			break
		}
		sc.feed(rec[:cut])
		if n, err := server.Read(buf); n != 0 || err != errWouldBlock {
			t.Fatalf("cut at %d: Read = %d, %v; want 0, errWouldBlock (returned unwrapped)", cut, n, err)
		}
		sc.feed(rec[cut:])
		n, err := server.Read(buf)
		if err != nil || string(buf[:n]) != "hello, loop" {
			t.Fatalf("cut at %d: Read after the rest = %q, %v; want the plaintext: crypto/tls kept a temporary error", cut, buf[:n], err)
		}
	}
	// Data, then half an alert: the data comes back with the
	// would-block, and the next Read hears the close_notify.
	rec := record(t, client, raw, []byte("last words"))
	errc := make(chan error, 1)
	go func() { errc <- client.CloseWrite() }()
	alert := make([]byte, 64)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	an, err := raw.Read(alert)
	if err != nil {
		t.Fatal(err)
	}
	<-errc
	sc.feed(append(rec, alert[:3]...))
	n, err := server.Read(buf)
	if string(buf[:n]) != "last words" || (err != nil && err != errWouldBlock) {
		t.Fatalf("data before half an alert: Read = %q, %v; want the data (and perhaps errWouldBlock)", buf[:n], err)
	}
	sc.feed(alert[3:an])
	if n, err := server.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the whole close_notify: Read = %d, %v; want 0, io.EOF", n, err)
	}
}

// TestCanaryHandshakeErrorIsSticky: a temporary error during the
// handshake is final, which is why the handshake runs on a goroutine
// over a wire that waits.
func TestCanaryHandshakeErrorIsSticky(t *testing.T) {
	sc := &scriptConn{}
	server := tls.Server(sc, tlsServerConfig(t))
	if err := server.Handshake(); err != errWouldBlock && !errors.Is(err, errWouldBlock) {
		t.Fatalf("Handshake over an empty non-blocking wire = %v, want errWouldBlock", err)
	}
	sc.blockErr = io.EOF
	if err := server.Handshake(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("second Handshake = %v; want the first error again (sticky), not a fresh read", err)
	}
}
