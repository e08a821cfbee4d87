//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/mill-io/mill"
)

// selfSigned makes a throw-away certificate for 127.0.0.1 and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type greeter struct{ mill.BuiltinHandler }

// OnOpen runs once the handshake is done, and can see what it agreed.
func (greeter) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	st, _ := c.TLS()
	return []byte("hello over " + st.NegotiatedProtocol + "\n"), mill.None
}

// TLS on one address: the handler reads and writes plaintext, and Conn.TLS
// reports what the handshake negotiated.
func ExampleWithTLS() {
	cert, pool := selfSigned()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"greet/1"}}
	s, err := mill.NewServer(greeter{}, "tcp://127.0.0.1:0", mill.WithTLS(cfg))
	if err != nil {
		panic(err)
	}
	go s.Serve()

	c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"greet/1"}})
	if err != nil {
		panic(err)
	}
	line := make([]byte, len("hello over greet/1\n"))
	io.ReadFull(c, line)
	fmt.Print(string(line))
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	// Output:
	// hello over greet/1
}

type printer struct {
	mill.BuiltinHandler
	got chan string
}

func (p printer) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	p.got <- string(b)
	return mill.None
}

// A Client dials TLS without blocking a loop: the handshake runs on a
// goroutine, and DialTLS returns once it is done and OnOpen has run.
func ExampleClient_DialTLS() {
	cert, pool := selfSigned()
	s, err := mill.NewServer(greeter{}, "tcp://127.0.0.1:0", mill.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	if err != nil {
		panic(err)
	}
	go s.Serve()

	p := printer{got: make(chan string, 1)}
	cl, err := mill.NewClient(p)
	if err != nil {
		panic(err)
	}
	cl.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := cl.DialTLS(ctx, "tcp", s.Addr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		panic(err)
	}
	st, _ := c.TLS()
	fmt.Println(st.HandshakeComplete, <-p.got == "hello over \n")

	cl.Stop(ctx)
	s.Shutdown(ctx)
	// Output:
	// true true
}
