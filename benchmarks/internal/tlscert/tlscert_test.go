package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestSelfSigned(t *testing.T) {
	c, k, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("not valid for %s: %v", h, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("does not verify against itself: %v", err)
	}
	if !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IP SANs %v", leaf.IPAddresses)
	}
}

func TestFlags(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.Register(fs)
	dir := t.TempDir()
	c, k, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cp, kp := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(cp, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, k, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-cert", cp, "-key", kp}); err != nil {
		t.Fatal(err)
	}
	gc, gk, err := f.PEM()
	if err != nil || string(gc) != string(c) || string(gk) != string(k) {
		t.Fatalf("PEM from files: err %v, same cert %v, same key %v", err, string(gc) == string(c), string(gk) == string(k))
	}
	cfg, err := f.Config()
	if err != nil || len(cfg.Certificates) != 1 {
		t.Fatalf("Config: %v", err)
	}
	if _, _, err := (&Flags{Cert: cp}).PEM(); err == nil {
		t.Error("-cert without -key accepted")
	}
	if _, _, err := (&Flags{}).PEM(); err != nil {
		t.Errorf("self-signed: %v", err)
	}
}
