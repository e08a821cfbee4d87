//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// roundTrip writes p through c and reads as many bytes back, with a
// deadline; the writing runs beside the reading so that a large p does
// not deadlock on full socket buffers.
func roundTrip(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	werr := make(chan error, 1)
	go func() { _, err := c.Write(p); werr <- err }()
	got := make([]byte, len(p))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %d echoed bytes: %v", len(p), err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("echo differs (%d bytes)", len(p))
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestTLSEcho serves echo over TLS to Go's client: both versions,
// several cipher suites, 1 byte and 1 MiB each way, and the negotiated
// state in OnOpen.
func TestTLSEcho(t *testing.T) {
	cases := []struct {
		name    string
		version uint16
		suite   uint16
	}{
		{"TLS1.3", tls.VersionTLS13, 0},
		{"TLS1.2-ECDHE-ECDSA-AES128-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"TLS1.2-ECDHE-ECDSA-AES256-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"TLS1.2-ECDHE-ECDSA-CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			states := make(chan tls.ConnectionState, 1)
			h := &funcHandler{
				open: func(c Conn) ([]byte, Action) {
					st, ok := c.TLS()
					if !ok {
						t.Error("TLS() reports plaintext in OnOpen")
					}
					states <- st
					return nil, None
				},
				traffic: func(c Conn) Action {
					b, _ := c.Next(-1)
					c.Write(b)
					return None
				},
			}
			scfg := tlsServerConfig(t)
			scfg.NextProtos = []string{"mill/1", "http/1.1"}
			s := serveTLS(t, h, scfg)
			ccfg := tlsClientConfig(t)
			ccfg.MinVersion, ccfg.MaxVersion = tc.version, tc.version
			ccfg.NextProtos = []string{"mill/1"}
			if tc.suite != 0 {
				ccfg.CipherSuites = []uint16{tc.suite}
			}
			c := dialTLS(t, s, ccfg)
			st := recv(t, states, "OnOpen")
			switch {
			case st.Version != tc.version:
				t.Errorf("version %x, want %x", st.Version, tc.version)
			case tc.suite != 0 && st.CipherSuite != tc.suite:
				t.Errorf("cipher suite %x, want %x", st.CipherSuite, tc.suite)
			case st.NegotiatedProtocol != "mill/1":
				t.Errorf("ALPN %q, want mill/1", st.NegotiatedProtocol)
			case st.ServerName != "localhost":
				t.Errorf("SNI %q, want localhost", st.ServerName)
			case !st.HandshakeComplete:
				t.Error("handshake not complete in OnOpen")
			}
			roundTrip(t, c, []byte{42})
			roundTrip(t, c, randomBytes(1<<20))
			roundTrip(t, c, []byte("after the big one"))
		})
	}
}

// TestTLSBesidePlaintext serves TLS and plaintext on two addresses of
// one server, over the same loop.
func TestTLSBesidePlaintext(t *testing.T) {
	h := &echoHandler{}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithAddrs("tcp://127.0.0.1:0"), WithLoops(1),
		WithTLS(tlsServerConfig(t), "tcp://127.0.0.1:0"))
	if err == nil {
		s.Shutdown(nil)
		t.Fatal("two identical addresses, one with TLS: want an error naming the ambiguity")
	}
	// Distinct spellings make the addresses distinct.
	s = serve(t, h, "tcp://127.0.0.1:0", WithAddrs("tcp4://127.0.0.1:0"), WithLoops(1),
		WithTLS(tlsServerConfig(t), "tcp4://127.0.0.1:0"))
	addrs := s.Addrs()
	plain, err := net.DialTimeout("tcp", addrs[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	roundTrip(t, plain, []byte("plaintext"))
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addrs[1].String(), tlsClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip(t, tc, []byte("encrypted"))
	roundTrip(t, plain, []byte("plaintext again"))
	if st := s.Stats().TLS; st.Handshakes != 1 || st.Failed.Total() != 0 {
		t.Errorf("TLS stats %+v, want one handshake, no failure", st)
	}
}

var _ = errors.Is
