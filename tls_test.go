//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

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

// TestTLSResumption: a second connection with the client's session
// cache resumes (TLS 1.3 tickets and TLS 1.2 tickets).
func TestTLSResumption(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		s := serveTLS(t, &echoHandler{}, nil)
		ccfg := tlsClientConfig(t)
		ccfg.MaxVersion = v
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		first := dialTLS(t, s, ccfg)
		roundTrip(t, first, []byte("x")) // reading takes in the TLS 1.3 ticket
		if first.ConnectionState().DidResume {
			t.Fatal("first connection resumed")
		}
		second := dialTLS(t, s, ccfg)
		roundTrip(t, second, []byte("y"))
		if !second.ConnectionState().DidResume {
			t.Fatalf("version %x: second connection did not resume", v)
		}
		if st := s.Stats().TLS; st.Handshakes != 2 || st.Resumed != 1 {
			t.Errorf("version %x: stats %+v, want 2 handshakes, 1 resumed", v, st)
		}
	}
}

// TestTLSSNI selects between two certificates by server name, with
// GetCertificate; and reloads one without a restart.
func TestTLSSNI(t *testing.T) {
	p := thePKI(t)
	var current atomic.Pointer[tls.Certificate]
	current.Store(&p.server)
	cfg := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hi.ServerName == "other.test" {
			return &p.other, nil
		}
		return current.Load(), nil
	}}
	s := serveTLS(t, &echoHandler{}, cfg)
	for _, name := range []string{"localhost", "other.test"} {
		ccfg := tlsClientConfig(t)
		ccfg.ServerName = name
		c := dialTLS(t, s, ccfg)
		if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != name {
			t.Errorf("asked for %s, got a certificate for %s", name, got)
		}
		roundTrip(t, c, []byte(name))
	}
	renewed := p.issue([]string{"localhost"}, false)
	current.Store(&renewed)
	c := dialTLS(t, s, tlsClientConfig(t))
	if got := c.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(renewed.Leaf.SerialNumber) != 0 {
		t.Errorf("after the reload the server sent serial %v, want %v", got, renewed.Leaf.SerialNumber)
	}
}

// TestTLSClientCertificates requires client certificates: a client with
// one is served and its certificate is on the Conn; one without fails
// its handshake, which is counted and reaches no handler.
func TestTLSClientCertificates(t *testing.T) {
	p := thePKI(t)
	peers := make(chan string, 1)
	h := &funcHandler{open: func(c Conn) ([]byte, Action) {
		st, _ := c.TLS()
		if len(st.PeerCertificates) > 0 {
			peers <- st.PeerCertificates[0].Subject.CommonName
		} else {
			peers <- ""
		}
		return nil, None
	}, traffic: func(c Conn) Action { b, _ := c.Next(-1); c.Write(b); return None }}
	cfg := tlsServerConfig(t)
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.ClientCAs = p.pool
	s := serveTLS(t, h, cfg)

	ccfg := tlsClientConfig(t)
	ccfg.Certificates = []tls.Certificate{p.client}
	c := dialTLS(t, s, ccfg)
	roundTrip(t, c, []byte("mutual"))
	if got := recv(t, peers, "OnOpen"); got != "client.test" {
		t.Errorf("peer certificate %q, want client.test", got)
	}

	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ccfg = tlsClientConfig(t)
		ccfg.MaxVersion = v
		raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(raw, ccfg)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3: the client's handshake ends before the server
			// has checked its (missing) certificate; the alert comes
			// on the first read.
			_, err = tc.Read(make([]byte, 1))
		}
		tc.Close()
		if err == nil {
			t.Fatalf("version %x: served without a client certificate", v)
		}
	}
	waitFor(t, "two failed handshakes counted", func() bool {
		st := s.Stats()
		return st.TLS.Failed.Error == 2 && st.Total.Closed.TLS == 2
	})
	if st := s.Stats(); st.TLS.Handshakes != 1 || st.Total.Closed.TLS != 2 {
		t.Errorf("stats %+v, closed %+v: want 1 handshake, 2 closed for TLS", st.TLS, st.Total.Closed)
	}
	select {
	case got := <-peers:
		t.Errorf("OnOpen ran (%q) for a refused handshake", got)
	default:
	}
}

// TestTLSLargeChain: a certificate so large that the server's
// Certificate message spans several records.
func TestTLSLargeChain(t *testing.T) {
	p := thePKI(t)
	names := []string{"localhost"}
	for i := 0; len(names) < 1200; i++ {
		names = append(names, fmt.Sprintf("host-%04d.padding.mill.test", i))
	}
	big := p.issue(names, false)
	if n := len(big.Certificate[0]); n < 32<<10 {
		t.Fatalf("certificate of %d bytes: want more than two records' worth", n)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{big}}
	s := serveTLS(t, &echoHandler{}, cfg)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ccfg := tlsClientConfig(t)
		ccfg.MaxVersion = v
		c := dialTLS(t, s, ccfg)
		roundTrip(t, c, randomBytes(100<<10))
	}
}

// TestTLSAsyncWrite writes from other goroutines, with callbacks, to a
// TLS connection: every byte arrives in order per writer, every
// callback runs once.
func TestTLSAsyncWrite(t *testing.T) {
	conns := make(chan Conn, 1)
	s := serveTLS(t, &funcHandler{conns: conns}, nil)
	c := dialTLS(t, s, nil)
	sc := recv(t, conns, "OnOpen")
	const writers, each = 4, 200
	var done sync.WaitGroup
	var calls atomic.Int64
	for w := 0; w < writers; w++ {
		done.Add(1)
		go func(w int) {
			defer done.Done()
			for i := 0; i < each; i++ {
				msg := []byte(fmt.Sprintf("%d:%04d;", w, i))
				if err := sc.AsyncWrite(msg, func(Conn, error) { calls.Add(1) }); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	done.Wait()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, writers*each*len("0:0000;"))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	for _, m := range strings.Split(strings.TrimSuffix(string(got), ";"), ";") {
		var w, i int
		fmt.Sscanf(m, "%d:%d", &w, &i)
		if i != next[w] {
			t.Fatalf("writer %d: message %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	waitFor(t, "every callback", func() bool { return calls.Load() == writers*each })
}

var _ = errors.Is

// TestTLSCallbackPanic: a panic in the configuration's GetCertificate
// fails that handshake, is counted, and the server carries on.
func TestTLSCallbackPanic(t *testing.T) {
	var calls atomic.Int64
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if calls.Add(1) == 1 {
			panic("certificate store on fire")
		}
		p := thePKI(t).server
		return &p, nil
	}}
	s := serveTLS(t, &echoHandler{}, cfg)
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr().String(), tlsClientConfig(t)); err == nil {
		c.Close()
		t.Fatal("handshake succeeded through a panic")
	}
	c := dialTLS(t, s, nil)
	roundTrip(t, c, []byte("still serving"))
	if st := s.Stats().TLS; st.Failed.Error != 1 || st.Handshakes != 1 {
		t.Errorf("stats %+v: want one failure, one handshake", st)
	}
}
