//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"crypto/rand"
	"crypto/tls"
	"errors"
	"go.uber.org/zap"

	"github.com/mill-io/mill/codec"
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

// TestTLSCloseNotify: the peer's close_notify is end of stream (the
// handler's reply still arrives, then ours); the handler's CloseWrite
// sends close_notify and FIN while reading goes on; Shutdown sends
// close_notify.
func TestTLSCloseNotify(t *testing.T) {
	t.Run("peer", func(t *testing.T) {
		h := &echoHandler{closeErrs: make(chan error, 1)}
		s := serveTLS(t, h, nil)
		c := dialTLS(t, s, nil)
		c.Write([]byte("bye"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if string(got) != "bye" || err != nil {
			t.Fatalf("after our close_notify read %q, %v; want the echo then a clean EOF (their close_notify)", got, err)
		}
		if err := recv(t, h.closeErrs, "OnClose"); err != nil {
			t.Errorf("OnClose(%v), want nil", err)
		}
	})
	t.Run("handler half-close", func(t *testing.T) {
		got := make(chan string, 4)
		h := &funcHandler{
			open: func(c Conn) ([]byte, Action) {
				c.Write([]byte("hello"))
				c.CloseWrite()
				return nil, None
			},
			traffic: func(c Conn) Action {
				b, _ := c.Next(-1)
				got <- string(b)
				return None
			},
		}
		s := serveTLS(t, h, nil)
		c := dialTLS(t, s, nil)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if string(b) != "hello" || err != nil {
			t.Fatalf("read %q, %v; want hello, then a clean EOF", b, err)
		}
		if _, err := c.Write([]byte("still heard")); err != nil {
			t.Fatal(err)
		}
		if g := recv(t, got, "OnTraffic after our half-close"); g != "still heard" {
			t.Errorf("OnTraffic got %q", g)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithTLS(tlsServerConfig(t)), WithLogger(zap.NewNop()))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- s.Serve() }()
		c := dialTLS(t, s, nil)
		roundTrip(t, c, []byte("x"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		<-errc
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after Shutdown read %v, want io.EOF (close_notify)", err)
		}
	})
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

// TestTLSBoundedEcho: a TLS client that sends 64 MiB and reads nothing
// until it has sent it all cannot make the server queue more than its
// limits: flow control stops reading it, and every byte comes back.
func TestTLSBoundedEcho(t *testing.T) {
	const total = 32 << 20
	const high, limit = 256 << 10, 1 << 20
	s := serveTLS(t, &echoHandler{}, nil, WithWriteWatermarks(64<<10, high), WithOutboundLimit(limit, CloseSlowConsumer))
	c := dialTLS(t, s, nil)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := randomBytes(1 << 20)
	var peak atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if q := s.Stats().Total.OutboundPending; q > peak.Load() {
				peak.Store(q)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	werr := make(chan error, 1)
	go func() {
		var err error
		for sent := 0; sent < total && err == nil; sent += len(data) {
			_, err = c.Write(data)
		}
		werr <- err
	}()
	// Read nothing until the server must have stopped reading us.
	waitFor(t, "flow control to stop reading", func() bool { return s.Stats().Total.FlowPauses > 0 })
	got := make([]byte, len(data))
	for read := 0; read < total; read += len(data) {
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("after %d bytes: %v", read, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("echo differs after %d bytes", read)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("queued output peaked at %d, past the limit %d", p, limit)
	}
	if cl := s.Stats().Total.Closed; cl.SlowConsumer != 0 {
		t.Errorf("closed %+v: flow control should have kept it below the limit", cl)
	}
}

// TestTLSTimeoutsAndCodec: a codec frames the plaintext, and the idle
// timeout (which does not run during the handshake) closes a TLS
// connection with ErrIdleTimeout and close_notify.
func TestTLSTimeoutsAndCodec(t *testing.T) {
	h := &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		for {
			f, err := c.ReadFrame()
			if f == nil || err != nil {
				return None
			}
			c.WriteFrame(bytes.ToUpper(f))
		}
	}}
	line := codec.Must(codec.NewLine(codec.LineConfig{}))
	s := serveTLS(t, h, nil, WithCodec(codec.Shared(line)), WithIdleTimeout(300*time.Millisecond))
	c := dialTLS(t, s, nil)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("one\ntw"))
	c.Write([]byte("o\n"))
	got := make([]byte, len("ONE\nTWO\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ONE\nTWO\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := recv(t, h.closeErrs, "the idle timeout"); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("OnClose(%v), want ErrIdleTimeout", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the idle timeout read %v, want io.EOF (close_notify)", err)
	}
}

// halfCloser echoes and, when the peer has shut its side, shuts ours
// (as a proxy does once its upstream has answered).
type halfCloser struct{ echoHandler }

func (h *halfCloser) OnHalfClose(c Conn) Action {
	c.CloseWrite()
	return None
}

// TestTLSPeerClosesFirst: a client that reads its reply, then sends
// close_notify and closes at once (curl does) ends clean, although its
// kernel resets our close_notify and FIN that come after.
func TestTLSPeerClosesFirst(t *testing.T) {
	h := &halfCloser{echoHandler{closeErrs: make(chan error, 32)}}
	s := serveTLS(t, h, nil, WithHalfOpen(true))
	for i := 0; i < 20; i++ {
		c := dialTLS(t, s, nil)
		roundTrip(t, c, []byte("request"))
		c.Close()
		if err := recv(t, h.closeErrs, "OnClose"); err != nil {
			t.Fatalf("connection %d: OnClose(%v), want nil", i, err)
		}
	}
	waitFor(t, "20 clean closes counted", func() bool { return s.Stats().Total.Closed.Clean == 20 })
	if cl := s.Stats().Total.Closed; cl.Total() != 20 {
		t.Errorf("closed %+v, want 20 clean", cl)
	}
}

// TestTLSWriteFromWriteCallback: with write batching, a batch grown past
// its limit is sent from inside a TLS write, and the callbacks that
// sending fires write again: they must not run while crypto/tls holds
// its write lock (that deadlocked the loop).
func TestTLSWriteFromWriteCallback(t *testing.T) {
	done := make(chan struct{}, 1)
	h := &funcHandler{traffic: func(c Conn) Action {
		c.Next(-1)
		c.Write([]byte("x"))
		c.AsyncWrite(make([]byte, 30<<10), func(c Conn, err error) {
			c.Write([]byte("y"))
			select {
			case done <- struct{}{}:
			default:
			}
		})
		c.AsyncWrite(make([]byte, 100<<10), nil)
		return None
	}}
	s := serveTLS(t, h, nil, WithWriteBatching(true))
	c := dialTLS(t, s, nil)
	go io.Copy(io.Discard, c)
	c.Write([]byte("go"))
	recvWithin(t, done, 10*time.Second, "the write callback's own write")
}

// TestTLSResetCountsAsIOError: a peer that resets an established TLS
// connection is an I/O error, as on plaintext, not a TLS failure.
func TestTLSResetCountsAsIOError(t *testing.T) {
	seen := make(chan struct{}, 1)
	h := &funcHandler{closeErrs: make(chan error, 1), traffic: func(c Conn) Action {
		select {
		case seen <- struct{}{}:
		default:
		}
		return None // left unread
	}}
	s := serveTLS(t, h, nil)
	c := dialTLS(t, s, nil)
	c.Write([]byte("x"))
	recv(t, seen, "OnTraffic")
	tc := c.NetConn().(*net.TCPConn)
	tc.SetLinger(0)
	tc.Close()
	err := recv(t, h.closeErrs, "OnClose")
	if errors.Is(err, ErrTLS) || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("OnClose(%v): want ECONNRESET, not ErrTLS", err)
	}
	waitFor(t, "the close counted", func() bool { return s.Stats().Total.Closed.IOError == 1 })
}
