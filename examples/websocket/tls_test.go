package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

// certPool returns a client configuration that trusts certs' certificate.
func certPool(certs *tlsflag.Server) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate().Leaf)
	return &tls.Config{RootCAs: roots}
}

// portOf is the port s listens on.
func portOf(s *mill.Server) string {
	_, port, _ := net.SplitHostPort(s.Addr().String())
	return port
}
