package tlsflag

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// parse registers the flags on a fresh FlagSet and parses args.
func parse(t *testing.T, args ...string) *Flags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return f
}

// logBuffer collects a logger's lines; safe for the SIGHUP goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writePair makes a fresh self-signed pair and writes it to dir as
// cert.pem and key.pem, replacing what was there; it returns the
// certificate's DER.
func writePair(t *testing.T, dir string) []byte {
	t.Helper()
	certPEM, keyPEM, err := SelfSigned(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert.Certificate[0]
}

// writeFile replaces name's content atomically (a rename), as a
// certificate renewal should, so that a reload never reads half a file.
func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// serve runs a crypto/tls server with cfg on a free port until the test
// ends: it completes each handshake and closes the connection.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.(*tls.Conn).Handshake() // the client reports failures
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// served makes a fresh connection with a full handshake (no session
// cache) and returns the leaf certificate the server presented.
func served(t *testing.T, addr string) []byte {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

func TestFlagsOff(t *testing.T) {
	f := parse(t)
	if f.Enabled() {
		t.Error("no flags: TLS enabled")
	}
	s, err := f.Load(nil)
	if s != nil || err != nil {
		t.Errorf("no flags: Load = %v, %v; want nil, nil", s, err)
	}
	if s.Config() != nil {
		t.Error("nil Server: Config not nil")
	}
	s.ReloadOnSIGHUP()() // a no-op on nil
}

func TestFlagsContradictions(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", cert}, "-tls-cert needs -tls-key"},
		{[]string{"-tls-key", key}, "-tls-key needs -tls-cert"},
		{[]string{"-tls-self-signed", "-tls-cert", cert, "-tls-key", key}, "without -tls-cert and -tls-key"},
		{[]string{"-tls-self-signed", "-tls-key", key}, "without -tls-cert and -tls-key"},
		{[]string{"-tls-cert", filepath.Join(dir, "none.pem"), "-tls-key", key}, "no such file"},
		{[]string{"-tls-cert", key, "-tls-key", cert}, "failed to find"},
	} {
		f := parse(t, tc.args...)
		if !f.Enabled() {
			t.Errorf("%q: not enabled", tc.args)
		}
		s, err := f.Load(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || s != nil {
			t.Errorf("%q: Load = %v, %v; want an error saying %q", tc.args, s, err, tc.want)
		}
	}
}

// TestSelfSigned checks the throw-away certificate: ECDSA P-256, for
// localhost, 127.0.0.1 and ::1, valid an hour back and a day ahead, and
// verifiable for each of those names by a client that trusts it.
func TestSelfSigned(t *testing.T) {
	before := time.Now()
	s, err := parse(t, "-tls-self-signed").Load(log.New(io.Discard, "", 0), "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.Certificate().Leaf
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if nb := before.Add(-time.Hour); leaf.NotBefore.After(nb) || leaf.NotBefore.Before(nb.Add(-time.Minute)) {
		t.Errorf("NotBefore %v, want an hour before %v", leaf.NotBefore, before)
	}
	if na := before.Add(24 * time.Hour); leaf.NotAfter.Before(na.Add(-time.Second)) || leaf.NotAfter.After(na.Add(time.Minute)) {
		t.Errorf("NotAfter %v, want 24 hours after %v", leaf.NotAfter, before)
	}
	cfg := s.Config()
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "http/1.1" {
		t.Errorf("config: MinVersion %x, NextProtos %q", cfg.MinVersion, cfg.NextProtos)
	}
	if !strings.Contains(s.Describe(), "self-signed") {
		t.Errorf("Describe: %q", s.Describe())
	}
	addr := serve(t, cfg)
	_, port, _ := net.SplitHostPort(addr)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", net.JoinHostPort("127.0.0.1", port),
			&tls.Config{RootCAs: roots, ServerName: name, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Errorf("verified as %s: %v", name, err)
			continue
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("ALPN %q, want http/1.1", p)
		}
		c.Close()
	}
	// Two starts, two certificates.
	s2, err := parse(t, "-tls-self-signed").Load(log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s2.Certificate().Certificate[0], leaf.Raw) {
		t.Error("the same certificate twice")
	}
	// Nothing to reload: the certificate stays.
	if err := s.Reload(); err == nil || s.Certificate().Leaf != leaf {
		t.Errorf("Reload of a self-signed certificate: %v, certificate changed: %v", err, s.Certificate().Leaf != leaf)
	}
}

// TestReload replaces the files and reloads: a fresh handshake gets the
// new certificate. Then bad files (garbage, a key that does not match,
// a file gone) fail to reload and the last good certificate stays.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	first := writePair(t, dir)
	var logs logBuffer
	s, err := parse(t, "-tls-cert", filepath.Join(dir, "cert.pem"), "-tls-key", filepath.Join(dir, "key.pem")).
		Load(log.New(&logs, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Describe(), "cert.pem") {
		t.Errorf("Describe: %q", s.Describe())
	}
	addr := serve(t, s.Config())
	if !bytes.Equal(served(t, addr), first) {
		t.Fatal("not the first certificate")
	}
	// An open connection keeps its certificate; new ones get the new one.
	open, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	second := writePair(t, dir)
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !bytes.Equal(served(t, addr), second) {
		t.Fatal("a new handshake after Reload did not get the new certificate")
	}
	if !bytes.Equal(open.ConnectionState().PeerCertificates[0].Raw, first) {
		t.Error("the open connection's certificate changed")
	}
	if !strings.Contains(logs.String(), "tls: reloaded") {
		t.Errorf("no reload logged:\n%s", logs.String())
	}

	certPEM, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	otherCert, otherKey, _ := SelfSigned(time.Now())
	for _, tc := range []struct {
		name string
		set  func()
	}{
		{"garbage certificate", func() { writeFile(t, filepath.Join(dir, "cert.pem"), []byte("not a certificate\n")) }},
		{"key of another certificate", func() {
			writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
			writeFile(t, filepath.Join(dir, "key.pem"), otherKey)
		}},
		{"certificate of another key", func() {
			writeFile(t, filepath.Join(dir, "cert.pem"), otherCert)
			writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
		}},
		{"file gone", func() { os.Remove(filepath.Join(dir, "cert.pem")) }},
	} {
		tc.set()
		err := s.Reload()
		if err == nil {
			t.Errorf("%s: Reload succeeded", tc.name)
			continue
		}
		if !bytes.Equal(served(t, addr), second) {
			t.Errorf("%s: the certificate served changed", tc.name)
		}
		if !strings.Contains(logs.String(), "reload failed, still serving the previous certificate: "+err.Error()) {
			t.Errorf("%s: failure not logged:\n%s", tc.name, logs.String())
		}
	}
}

// TestReloadOnSIGHUP sends the process a SIGHUP after replacing the
// files: the watcher reloads them, and fresh handshakes get the new
// certificate.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	first := writePair(t, dir)
	var logs logBuffer
	s, err := parse(t, "-tls-cert", filepath.Join(dir, "cert.pem"), "-tls-key", filepath.Join(dir, "key.pem")).
		Load(log.New(&logs, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s.Config())
	stop := s.ReloadOnSIGHUP()
	defer stop()
	if !bytes.Equal(served(t, addr), first) {
		t.Fatal("not the first certificate")
	}
	second := writePair(t, dir)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Equal(s.Certificate().Certificate[0], second) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload 10 s after SIGHUP; log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !bytes.Equal(served(t, addr), second) {
		t.Error("a handshake after the SIGHUP reload did not get the new certificate")
	}
	if l := logs.String(); !strings.Contains(l, "SIGHUP") || !strings.Contains(l, "tls: reloaded") {
		t.Errorf("log:\n%s", l)
	}
	stop()
	stop() // twice is fine
}

// TestLoadRefusesExpired: a certificate past its NotAfter is refused at
// start.
func TestLoadRefusesExpired(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := SelfSigned(time.Now().Add(-48 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
	_, err = parse(t, "-tls-cert", filepath.Join(dir, "cert.pem"), "-tls-key", filepath.Join(dir, "key.pem")).Load(nil)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Load: %v, want expired", err)
	}
}
