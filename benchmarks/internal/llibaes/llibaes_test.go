package llibaes

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	ltls "github.com/lesismal/llib/std/crypto/tls"
	"golang.org/x/sys/cpu"

	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

func TestPreferAESGCM(t *testing.T) {
	// The fork's own answer is false whatever the CPU (the bug this
	// package works around); if that ever changes, this package can go.
	if Enabled() {
		t.Log("llib now detects AES-GCM hardware itself")
	}
	want := cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	if got := PreferAESGCM(); got != want || Enabled() != want {
		t.Fatalf("PreferAESGCM() = %v, Enabled() = %v, want %v", got, Enabled(), want)
	}
}

// TestNegotiatesAES runs a handshake between an llib server and a Go
// client over a real socket: with PreferAESGCM the fork picks AES-GCM.
func TestNegotiatesAES(t *testing.T) {
	if !PreferAESGCM() {
		t.Skip("no AES-GCM hardware: the fork rightly prefers ChaCha20-Poly1305")
	}
	c, k, err := tlscert.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ltls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer sc.Close()
		_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
		s := ltls.Server(sc, &ltls.Config{Certificates: []ltls.Certificate{pair}})
		done <- s.Handshake()
	}()
	cc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := cc.ConnectionState().CipherSuite; got != tls.TLS_AES_128_GCM_SHA256 {
		t.Fatalf("negotiated %s, want TLS_AES_128_GCM_SHA256", tls.CipherSuiteName(got))
	}
}
