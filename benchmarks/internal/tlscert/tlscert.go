// Package tlscert gives the benchmark servers their TLS certificate: a
// throw-away self-signed ECDSA P-256 certificate for localhost, 127.0.0.1
// and ::1 made at start, or a certificate and key read from PEM files
// (-cert and -key). Every server gets the same kind of key, so a full
// handshake costs each of them the same signature.
package tlscert

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
	"math/big"
	"net"
	"os"
	"time"
)

// SelfSigned makes a self-signed ECDSA P-256 certificate valid for
// localhost, 127.0.0.1 and ::1 for the next 48 hours, and returns it and
// its private key PEM-encoded.
func SelfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"mill benchmarks"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}

// Flags are a server's -cert and -key flags.
type Flags struct {
	Cert, Key string
}

// Register adds -cert and -key to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Cert, "cert", "", "TLS certificate chain, PEM (with -key; default: a self-signed ECDSA P-256 certificate made at start)")
	fs.StringVar(&f.Key, "key", "", "TLS private key, PEM (with -cert)")
}

// PEM returns the certificate chain and key: read from the files if both
// flags are set, made by SelfSigned if neither is.
func (f *Flags) PEM() (certPEM, keyPEM []byte, err error) {
	switch {
	case f.Cert == "" && f.Key == "":
		return SelfSigned()
	case f.Cert == "" || f.Key == "":
		return nil, nil, errors.New("-cert and -key go together")
	}
	if certPEM, err = os.ReadFile(f.Cert); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(f.Key); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// Config returns a crypto/tls server configuration with the certificate
// of PEM and otherwise crypto/tls's defaults (TLS 1.2 and 1.3, session
// tickets on).
func (f *Flags) Config() (*tls.Config, error) {
	c, k, err := f.PEM()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(c, k)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}
