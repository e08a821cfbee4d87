// Package tlsflag gives the examples their TLS flags: -tls-cert and
// -tls-key (PEM files) or -tls-self-signed (a throw-away certificate made
// at start), and the server's *tls.Config built from them.
//
// The certificate is served through tls.Config.GetCertificate from an
// atomic pointer, so it can be replaced while the server runs: Reload
// reads the files again (ReloadOnSIGHUP does so on every SIGHUP). Each
// handshake that starts after a reload gets the new certificate;
// connections already open keep the one they were made with. A reload
// that fails (a missing file, a key that does not match) changes nothing.
//
// The package uses the standard library only.
package tlsflag

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Flags holds the values of the TLS flags. Its zero value is TLS off.
type Flags struct {
	CertFile   string // -tls-cert: PEM certificate chain, leaf first
	KeyFile    string // -tls-key: PEM private key of the leaf
	SelfSigned bool   // -tls-self-signed: a throw-away certificate for localhost
}

// Register defines -tls-cert, -tls-key and -tls-self-signed on fs and
// returns the Flags they set (after fs.Parse).
func Register(fs *flag.FlagSet) *Flags {
	f := new(Flags)
	fs.StringVar(&f.CertFile, "tls-cert", "", "serve TLS with this PEM certificate (chain, leaf first); needs -tls-key; reloaded on SIGHUP")
	fs.StringVar(&f.KeyFile, "tls-key", "", "PEM private key for -tls-cert")
	fs.BoolVar(&f.SelfSigned, "tls-self-signed", false, "serve TLS with a throw-away ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1 made at start (valid 24 hours)")
	return f
}

// Enabled reports whether the flags ask for TLS at all.
func (f *Flags) Enabled() bool {
	return f.CertFile != "" || f.KeyFile != "" || f.SelfSigned
}

// Check reports a contradiction in the flags: only one of -tls-cert and
// -tls-key, or files together with -tls-self-signed.
func (f *Flags) Check() error {
	files := f.CertFile != "" || f.KeyFile != ""
	switch {
	case files && f.SelfSigned:
		return errors.New("-tls-self-signed makes its own certificate: give it without -tls-cert and -tls-key")
	case f.CertFile != "" && f.KeyFile == "":
		return errors.New("-tls-cert needs -tls-key")
	case f.KeyFile != "" && f.CertFile == "":
		return errors.New("-tls-key needs -tls-cert")
	}
	return nil
}

// Load checks the flags and, if they ask for TLS, loads or makes the
// certificate and returns the Server that serves it; nil and no error
// when TLS is off. nextProtos become the config's NextProtos (ALPN), in
// order of preference (none: ALPN is not used). logger receives reload
// messages (nil: log.Default()).
func (f *Flags) Load(logger *log.Logger, nextProtos ...string) (*Server, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, nil
	}
	if logger == nil {
		logger = log.Default()
	}
	s := &Server{certFile: f.CertFile, keyFile: f.KeyFile, log: logger}
	var cert tls.Certificate
	var err error
	if f.SelfSigned {
		var certPEM, keyPEM []byte
		if certPEM, keyPEM, err = SelfSigned(time.Now()); err == nil {
			cert, err = tls.X509KeyPair(certPEM, keyPEM)
		}
		if err == nil {
			err = parseLeaf(&cert)
		}
	} else {
		cert, err = loadFiles(f.CertFile, f.KeyFile)
	}
	if err != nil {
		return nil, err
	}
	s.cert.Store(&cert)
	s.config = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     nextProtos,
		GetCertificate: s.getCertificate,
	}
	return s, nil
}

// Server is a server's TLS configuration with a certificate that can be
// replaced while it serves. Its methods are safe for concurrent use.
type Server struct {
	config            *tls.Config
	cert              atomic.Pointer[tls.Certificate]
	certFile, keyFile string // "": self-signed, nothing to reload
	log               *log.Logger
	reloadMu          sync.Mutex // one reload at a time, so the last one read wins
}

// Config returns the configuration to serve with (mill.WithTLS). It is
// the same *tls.Config every time; its certificate is whichever one was
// loaded last. A nil Server (TLS off) has a nil Config.
func (s *Server) Config() *tls.Config {
	if s == nil {
		return nil
	}
	return s.config
}

// Certificate returns the certificate new handshakes get now.
func (s *Server) Certificate() *tls.Certificate { return s.cert.Load() }

// Describe says what is served, for a start-up log line.
func (s *Server) Describe() string {
	leaf := s.cert.Load().Leaf
	what := fmt.Sprintf("certificate %q", leaf.Subject.CommonName)
	if s.certFile == "" {
		what = "a self-signed certificate"
	} else {
		what += " from " + s.certFile
	}
	return fmt.Sprintf("TLS with %s for %v, valid until %s", what, names(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (s *Server) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// Reload reads the certificate and key files again and, if they make a
// valid pair, serves the new certificate to every handshake that starts
// from now on. If they do not, the certificate served stays as it was.
// Either way the outcome is logged, and the error returned. A
// self-signed certificate has no files: Reload then keeps it and says so.
func (s *Server) Reload() error {
	if s.certFile == "" {
		err := errors.New("the certificate is self-signed: there are no files to reload")
		s.log.Printf("tls: reload: %v", err)
		return err
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cert, err := loadFiles(s.certFile, s.keyFile)
	if err != nil {
		s.log.Printf("tls: reload failed, still serving the previous certificate: %v", err)
		return err
	}
	s.cert.Store(&cert)
	s.log.Printf("tls: reloaded %s: certificate for %v, valid until %s",
		s.certFile, names(cert.Leaf), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// ReloadOnSIGHUP calls Reload on every SIGHUP the process receives, on
// a goroutine of its own, until stop is called. stop waits for that
// goroutine to end. On a nil Server (TLS off) it does nothing.
func (s *Server) ReloadOnSIGHUP() (stop func()) {
	if s == nil {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-sig:
				s.log.Printf("tls: SIGHUP: reloading the certificate")
				_ = s.Reload() // logged
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sig)
			close(quit)
			<-done
		})
	}
}

// loadFiles reads a certificate and its key and checks that the leaf is
// usable now.
func loadFiles(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := parseLeaf(&cert); err != nil {
		return tls.Certificate{}, err
	}
	if time.Now().After(cert.Leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("%s: the certificate expired at %s", certFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// parseLeaf fills in cert.Leaf if it is not yet (LoadX509KeyPair and
// X509KeyPair do since Go 1.23, unless GODEBUG x509keypairleaf=0).
func parseLeaf(cert *tls.Certificate) error {
	if cert.Leaf != nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	cert.Leaf = leaf
	return err
}

// names lists the DNS names and IP addresses a certificate is for.
func names(leaf *x509.Certificate) []string {
	var n []string
	n = append(n, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		n = append(n, ip.String())
	}
	return n
}

// SelfSigned makes a throw-away certificate and returns it and its key,
// PEM-encoded: ECDSA P-256, self-signed, for the DNS name localhost and
// the addresses 127.0.0.1 and ::1, valid from an hour before now (for
// clocks a little behind) to 24 hours after.
func SelfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"mill example (self-signed)"}},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
