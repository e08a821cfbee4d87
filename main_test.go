//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) {
	if os.Getenv(idleClientEnv) != "" {
		os.Exit(runIdleClients())
	}
	if os.Getenv(systemdChildEnv) != "" {
		os.Exit(runSystemdChild())
	}
	if code, ok := osChild(); ok {
		os.Exit(code)
	}
	leaktest.VerifyTestMain(m)
}

// antsGoroutines are the goroutines leak checks ignore: those of ants'
// default pool, which mill never uses (see internal/leaktest).
var antsGoroutines = leaktest.Options()

// serve starts s on a fresh port and shuts it down when the test ends,
// checking that Serve returned ErrServerClosed.
func serve(t *testing.T, h Handler, addr string, opts ...Option) *Server {
	t.Helper()
	if addr == "" {
		addr = "tcp://127.0.0.1:0"
	}
	opts = append([]Option{WithLogger(zap.NewNop())}, opts...)
	s, err := NewServer(h, addr, opts...)
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
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(s.Addr().Network(), s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFull reads len(want) bytes with a deadline and compares them.
func expectRead(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("read %q, want %q", trunc(got), trunc(want))
	}
}

func trunc(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitBound is how long the wait helpers (recv, waitFor) give something
// that should happen: generous, so that a loaded machine makes a test slow
// rather than red.
const waitBound = 10 * time.Second

// recv receives a value from ch, failing the test if none comes within
// waitBound; what names the awaited event ("timed out waiting for what").
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, ch, waitBound, what)
}

// recvWithin is recv with a bound of d, for a test whose bound matters.
func recvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

// echoHandler echoes and counts opens and closes.
type echoHandler struct {
	BuiltinHandler
	opens, closes atomic.Int64
	closeErrs     chan error // if not nil, receives every OnClose error
}

func (h *echoHandler) OnOpen(Conn) ([]byte, Action) {
	h.opens.Add(1)
	return nil, None
}

func (h *echoHandler) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return None
}

func (h *echoHandler) OnClose(_ Conn, err error) Action {
	h.closes.Add(1)
	if h.closeErrs != nil {
		h.closeErrs <- err
	}
	return None
}

// funcHandler is the configurable test handler, for a test whose handler
// is a callback or two (tests that need state of their own embed it): a
// hook that is set is that callback, one that is not does what
// BuiltinHandler does. When not nil, conns receives every opened Conn
// (after open; a send that blocks holds the loop, so size it) and
// closeErrs every OnClose error (after close; when it is full the error is
// dropped, never blocking the loop).
type funcHandler struct {
	BuiltinHandler
	open      func(Conn) ([]byte, Action)
	traffic   func(Conn) Action
	close     func(Conn, error) Action
	conns     chan Conn
	closeErrs chan error
}

func (h *funcHandler) OnOpen(c Conn) (out []byte, a Action) {
	if h.open != nil {
		out, a = h.open(c)
	}
	if h.conns != nil {
		h.conns <- c
	}
	return out, a
}

func (h *funcHandler) OnTraffic(c Conn) Action {
	if h.traffic == nil {
		return None
	}
	return h.traffic(c)
}

func (h *funcHandler) OnClose(c Conn, err error) (a Action) {
	if h.close != nil {
		a = h.close(c, err)
	}
	if h.closeErrs != nil {
		select {
		case h.closeErrs <- err:
		default:
		}
	}
	return a
}

// answer is a handler that answers any input (discarding it) with reply,
// and sends each OnClose error to its closeErrs.
func answer(reply []byte) *funcHandler {
	return &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		c.Discard(-1)
		c.Write(reply)
		return None
	}}
}

// inspect runs fn on sc's loop and waits for it: the way for a test to
// look at a connection's loop-only state. It reports false if the loop
// has stopped.
func inspect(sc Conn, fn func(c *conn)) bool {
	c := sc.(*conn)
	done := make(chan struct{})
	if c.loop.loop.Submit(func() { fn(c); close(done) }) != nil {
		return false
	}
	<-done
	return true
}

// serverFDs is per-server descriptor accounting: add notes what each
// descriptor it is given refers to (its socket), and open lists those
// still referring to it. Unlike openFDs, tests running at the same time
// (or a test before this one still closing its own) do not disturb it.
// add is for a loop callback, open for the test's goroutine.
type serverFDs struct {
	mu     sync.Mutex
	target map[int]string
}

// fdTarget is what fd refers to ("socket:[1234]"), or "" if it is closed.
func fdTarget(fd int) string {
	l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return l
}

// newServerFDs skips the test where descriptors cannot be looked at.
func newServerFDs(t *testing.T) *serverFDs {
	t.Helper()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	return &serverFDs{target: map[int]string{}}
}

func (s *serverFDs) add(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target[fd] = fdTarget(fd)
}

func (s *serverFDs) open() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []int
	for fd, target := range s.target {
		if fdTarget(fd) == target {
			open = append(open, fd)
		}
	}
	return open
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// eventually polls cond until it holds or d passes, and reports which.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// testPKI is a throw-away certificate authority and the certificates
// the TLS tests use, made once per test binary (ECDSA P-256, valid for
// a day).
type testPKI struct {
	pool    *x509.CertPool
	server  tls.Certificate // localhost, 127.0.0.1, ::1
	other   tls.Certificate // other.test, for SNI
	client  tls.Certificate // a client certificate the CA signed
	caCert  *x509.Certificate
	caKey   *ecdsa.PrivateKey
	serials atomic.Int64
}

var (
	pkiOnce sync.Once
	pki     *testPKI
)

// thePKI returns the test PKI, making it on first use.
func thePKI(t testing.TB) *testPKI {
	pkiOnce.Do(func() {
		p := &testPKI{}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mill test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		p.caCert, _ = x509.ParseCertificate(der)
		p.caKey = key
		p.serials.Store(1)
		p.pool = x509.NewCertPool()
		p.pool.AddCert(p.caCert)
		p.server = p.issue([]string{"localhost"}, false)
		p.other = p.issue([]string{"other.test"}, false)
		p.client = p.issue([]string{"client.test"}, true)
		pki = p
	})
	return pki
}

// issue makes a certificate for names (IP addresses become IP SANs;
// localhost also gets 127.0.0.1 and ::1), for a client or a server.
func (p *testPKI) issue(names []string, client bool) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serials.Add(1)), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
		if n == "localhost" {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsServerConfig is a server configuration with the localhost
// certificate.
func tlsServerConfig(t testing.TB) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{thePKI(t).server}}
}

// tlsClientConfig trusts the test CA and expects localhost.
func tlsClientConfig(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: thePKI(t).pool, ServerName: "localhost"}
}

// serveTLS serves h with TLS (cfg, or tlsServerConfig when nil) on a
// fresh loopback port.
func serveTLS(t *testing.T, h Handler, cfg *tls.Config, opts ...Option) *Server {
	t.Helper()
	if cfg == nil {
		cfg = tlsServerConfig(t)
	}
	return serve(t, h, "", append([]Option{WithTLS(cfg)}, opts...)...)
}

// dialTLS connects to s with the client configuration cfg (or
// tlsClientConfig when nil) and completes the handshake.
func dialTLS(t *testing.T, s *Server, cfg *tls.Config) *tls.Conn {
	t.Helper()
	if cfg == nil {
		cfg = tlsClientConfig(t)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", s.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
