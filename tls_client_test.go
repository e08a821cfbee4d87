//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// stdTLSEcho is a standard-library TLS echo server on a fresh port.
func stdTLSEcho(t *testing.T, cfg *tls.Config) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return echoOn(t, tls.NewListener(ln, cfg))
}

// TestTLSClientDial: a Client's TLS dial to a standard-library server
// verifies the certificate against the address's host, runs OnOpen
// after the handshake, and echoes.
func TestTLSClientDial(t *testing.T) {
	ln := stdTLSEcho(t, tlsServerConfig(t))
	got := make(chan []byte, 4)
	opened := make(chan tls.ConnectionState, 1)
	h := &funcHandler{
		open: func(c Conn) ([]byte, Action) {
			st, _ := c.TLS()
			opened <- st
			return []byte("hello"), None
		},
		traffic: func(c Conn) Action {
			b, _ := c.Next(-1)
			got <- append([]byte(nil), b...)
			return None
		},
	}
	cl := startClient(t, h)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg := &tls.Config{RootCAs: thePKI(t).pool} // ServerName from the address
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cl.DialTLS(ctx, "tcp", "localhost:"+port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := recv(t, opened, "OnOpen")
	if !st.HandshakeComplete || st.ServerName != "localhost" {
		t.Errorf("state in OnOpen: complete %v, server name %q", st.HandshakeComplete, st.ServerName)
	}
	var all []byte
	for len(all) < len("hello") {
		all = append(all, recv(t, got, "the echo")...)
	}
	if string(all) != "hello" {
		t.Fatalf("echo %q", all)
	}
	big := randomBytes(1 << 20)
	if err := c.AsyncWrite(big, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(big) {
		n += len(recv(t, got, "the big echo"))
	}
	if st := cl.Stats().TLS; st.Handshakes != 1 {
		t.Errorf("client stats %+v", st)
	}
}

// TestTLSClientDialFails: a certificate that does not verify fails the
// dial: OnClose and the caller hear an error matching ErrTLSHandshake
// and the verification error; OnOpen never runs.
func TestTLSClientDialFails(t *testing.T) {
	ln := stdTLSEcho(t, tlsServerConfig(t))
	closeErrs := make(chan error, 2)
	h := &funcHandler{
		open:  func(c Conn) ([]byte, Action) { t.Error("OnOpen ran for a failed handshake"); return nil, None },
		close: func(c Conn, err error) Action { closeErrs <- err; return None },
	}
	core, logs := observer.New(zap.DebugLevel)
	cl := startClient(t, h, WithLogger(zap.New(core)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := &tls.Config{RootCAs: thePKI(t).pool, ServerName: "wrong.test"}
	_, err := cl.DialTLS(ctx, "tcp", ln.Addr().String(), cfg)
	var verr *tls.CertificateVerificationError
	if !errors.Is(err, ErrTLSHandshake) || !errors.As(err, &verr) {
		t.Fatalf("DialTLS = %v; want ErrTLSHandshake and a *tls.CertificateVerificationError", err)
	}
	var herr x509.HostnameError
	if !errors.As(err, &herr) {
		t.Errorf("%v: want an x509.HostnameError inside", err)
	}
	if cerr := recv(t, closeErrs, "OnClose"); !errors.Is(cerr, ErrTLSHandshake) {
		t.Errorf("OnClose(%v), want the handshake error", cerr)
	}
	// No certificate authority given: the system's, which does not know
	// the test CA.
	errc := make(chan error, 1)
	h.close = func(c Conn, err error) Action { errc <- err; return None }
	if err := cl.DialAsyncTLS("tcp", ln.Addr().String(), &tls.Config{ServerName: "localhost"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errc, "OnClose of the async dial"); !errors.Is(err, ErrTLSHandshake) {
		t.Errorf("async dial OnClose(%v), want ErrTLSHandshake", err)
	}
	if st := cl.Stats().TLS; st.Failed.Error != 2 || st.InProgress != 0 {
		t.Errorf("client stats %+v, want two errors", st)
	}
	// The dialler hears of the failure: the client logs it at Debug, not
	// as a warning.
	failed := logs.FilterMessage("TLS handshake failed").All()
	if len(failed) == 0 {
		t.Error("the failed handshake was not logged at Debug")
	}
	for _, e := range failed {
		if e.Level != zap.DebugLevel {
			t.Errorf("a Client's failed handshake logged at %v", e.Level)
		}
	}
	if _, err := cl.DialTLS(ctx, "udp", ln.Addr().String(), cfg); err == nil {
		t.Error("DialTLS over udp: want an error")
	}
	if _, err := cl.DialTLS(ctx, "tcp", ln.Addr().String(), nil); err == nil {
		t.Error("DialTLS with a nil config: want an error")
	}
}

// TestTLSClientToServer: mill's TLS client against mill's TLS server,
// both on loops.
func TestTLSClientToServer(t *testing.T) {
	s := serveTLS(t, &echoHandler{}, nil)
	got := make(chan int, 64)
	h := &funcHandler{traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		got <- len(b)
		return None
	}}
	cl := startClient(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cl.DialTLS(ctx, "tcp", s.Addr().String(), tlsClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 10
	if err := c.AsyncWrite(randomBytes(size), nil); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < size; {
		n += recv(t, got, "echo")
	}
}

// TestTLSClientDialContext: DialTLS's context bounds the handshake as it
// bounds the connect: a server that accepts and never answers fails the
// dial when the context ends, not at the handshake timeout.
func TestTLSClientDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts (the kernel does), never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl := startClient(t, &funcHandler{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = cl.DialTLS(ctx, "tcp", ln.Addr().String(), tlsClientConfig(t))
	if !errors.Is(err, ErrTLSHandshake) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialTLS = %v; want ErrTLSHandshake and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("DialTLS took %v: the context did not bound the handshake", d)
	}
	waitFor(t, "nothing under way", func() bool { return cl.Stats().TLS.InProgress == 0 })
	if _, err := cl.DialTLS(context.Background(), "unix", "/tmp/x.sock", &tls.Config{}); err == nil {
		t.Error("DialTLS on unix without a ServerName: want an error")
	}
	if _, err := cl.DialTLS(context.Background(), "unixgram", "/tmp/x.sock", &tls.Config{ServerName: "x"}); err == nil {
		t.Error("DialTLS on unixgram: want an error")
	}
}
