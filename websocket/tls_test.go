package websocket

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mill websocket test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
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

// TestWSS: mill's client and server over TLS, with compression.
func TestWSS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	srv := newRecorder(true)
	_, addr := serve(t, srv, []Option{WithCompression(Compression{Enabled: true})},
		mill.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	got := newRecorder(false)
	cl := newClient(t, got, WithTLSConfig(&tls.Config{RootCAs: pool}), WithCompression(Compression{Enabled: true}))
	c := dialWS(t, cl, "wss://"+addr+"/secure")
	if st, ok := c.NetConn().TLS(); !ok || !st.HandshakeComplete {
		t.Fatal("not TLS")
	}
	msg := bytes.Repeat([]byte("secret "), 50000)
	if err := c.AsyncWriteMessage(OpText, msg, nil); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got.messages, "echo"); !bytes.Equal(m.p, msg) {
		t.Fatalf("echo of %d bytes: %d", len(msg), len(m.p))
	}
	// A client that does not trust the certificate fails the dial.
	bad := newClient(t, newRecorder(false))
	if _, err := bad.Dial(t.Context(), "wss://"+addr, nil); err == nil {
		t.Fatal("dial with an untrusted certificate worked")
	}
}
