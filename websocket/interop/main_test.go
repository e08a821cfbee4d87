package interop

// Fixtures shared by the interop tests: a mill WebSocket server with an
// echoing, recording handler, and a self-signed certificate for wss.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/websocket"
)

// TestMain fails the tests if they leave goroutines behind, other than
// the housekeeping goroutines of ants' default pool (mill links ants)
// and net/http's idle connection machinery of the default transport.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// waitBound bounds every wait in these tests.
const waitBound = 10 * time.Second

// recv waits for a value from ch, at most waitBound.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitBound):
		t.Fatalf("no %s within %v", what, waitBound)
	}
	var zero T
	return zero
}

// ctxT is a context that ends after waitBound or with the test.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	t.Cleanup(cancel)
	return ctx
}

// echo is a mill websocket Handler that echoes every message, with a
// few commands (text messages):
//
//	"close:<code>:<reason>"  the server closes with that code and reason
//	"ping:<payload>"          the server pings; "pong:<payload>" is sent
//	                          back to the client when its pong comes
//
// It records opens, messages and closes on its channels.
type echo struct {
	opens    chan *websocket.Conn
	messages chan []byte
	closes   chan error
	pongs    chan []byte
}

func newEcho() *echo {
	return &echo{opens: make(chan *websocket.Conn, 512), messages: make(chan []byte, 1024),
		closes: make(chan error, 512), pongs: make(chan []byte, 16)}
}

// OnOpen records c. Loop goroutine.
func (e *echo) OnOpen(c *websocket.Conn) { e.opens <- c }

// OnMessage runs the commands and echoes everything else. Loop goroutine.
func (e *echo) OnMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	if op == websocket.OpText {
		s := string(p)
		if rest, ok := strings.CutPrefix(s, "close:"); ok {
			code, reason, _ := strings.Cut(rest, ":")
			n, _ := strconv.Atoi(code)
			_ = c.Close(websocket.StatusCode(n), reason)
			return
		}
		if rest, ok := strings.CutPrefix(s, "ping:"); ok {
			_ = c.Ping([]byte(rest))
			return
		}
	}
	if err := c.WriteMessage(op, p); err != nil && err != websocket.ErrClosed {
		panic("echo: " + err.Error())
	}
	select {
	case e.messages <- append([]byte(nil), p...):
	default:
	}
}

// OnPong answers a server ping's pong with a "pong:" message. Loop
// goroutine.
func (e *echo) OnPong(c *websocket.Conn, p []byte) {
	_ = c.WriteMessage(websocket.OpText, append([]byte("pong:"), p...))
}

// OnClose records err. Loop goroutine.
func (e *echo) OnClose(c *websocket.Conn, err error) { e.closes <- err }

// serveMill serves a websocket server for h on a loopback port (over
// TLS with cert, if it is not nil) and shuts it down when the test
// ends. It returns the server and its address.
func serveMill(t testing.TB, h websocket.Handler, cert *tls.Certificate, opts ...websocket.Option) (*websocket.Server, string) {
	t.Helper()
	ws, err := websocket.NewServer(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mopts := []mill.Option{mill.WithLoops(2)}
	if cert != nil {
		mopts = append(mopts, mill.WithTLS(&tls.Config{Certificates: []tls.Certificate{*cert}}))
	}
	s, err := mill.NewServer(ws, "tcp://127.0.0.1:0", mopts...)
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
		<-done
	})
	return ws, s.Addr().String()
}

// newMillClient starts a mill websocket client for h and stops it when
// the test ends.
func newMillClient(t testing.TB, h websocket.Handler, opts ...websocket.Option) *websocket.Client {
	t.Helper()
	cl, err := websocket.NewClient(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("client Stop: %v", err)
		}
	})
	return cl
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mill interop test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// payload is n bytes of a pattern that compresses somewhat.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%23 + (i/97)%3)
	}
	return b
}

// sizes are the message sizes the echo tests go through, 0 to 1 MiB,
// across the 7-bit, 16-bit and 64-bit length encodings.
var sizes = []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 65537, 200_000, 1 << 20}

// newTLSConfig is a client TLS configuration that trusts pool.
func newTLSConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }
