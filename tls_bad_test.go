//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// clientHello returns the bytes a crypto/tls client sends first (its
// ClientHello), by capturing them from a handshake that goes nowhere.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, cfg).Handshake()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	var got []byte
	for scanClientHello(got) != helloComplete {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	return got
}

// TestTLSBadInput: bytes that are not a ClientHello, a ClientHello cut
// short, a plaintext HTTP request, a peer that resets mid-handshake.
// Each closes only its connection, with a counted cause and no handler
// call; a plaintext connection on the same loop keeps being served.
func TestTLSBadInput(t *testing.T) {
	h := &funcHandler{conns: make(chan Conn, 8), traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		c.Write(b)
		return None
	}}
	s := serve(t, h, "tcp://127.0.0.1:0", WithAddrs("tcp4://127.0.0.1:0"), WithLoops(1),
		WithTLS(tlsServerConfig(t), "tcp4://127.0.0.1:0"), WithTLSHandshakeTimeout(300*time.Millisecond))
	plainAddr, tlsAddr := s.Addrs()[0].String(), s.Addrs()[1].String()
	plain, err := net.DialTimeout("tcp", plainAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	<-h.conns
	roundTrip(t, plain, []byte("before"))
	base := runtime.NumGoroutine()

	hello := clientHello(t, tlsClientConfig(t))
	cases := []struct {
		name  string
		send  []byte
		reset bool
		want  error
		count func(TLSFailures) uint64
		reply string
	}{
		{"garbage", []byte("\x16\x03\x01\x00\x05\x02garbage that is not a hello"), false, ErrNotTLS,
			func(f TLSFailures) uint64 { return f.NotTLS }, ""},
		{"binary", []byte{0, 1, 2, 3, 4, 5, 6, 7}, false, ErrNotTLS,
			func(f TLSFailures) uint64 { return f.NotTLS }, ""},
		{"half a ClientHello, then silence", hello[:len(hello)/2], false, ErrTLSHandshakeTimeout,
			func(f TLSFailures) uint64 { return f.Timeout }, ""},
		{"nothing at all", nil, false, ErrTLSHandshakeTimeout,
			func(f TLSFailures) uint64 { return f.Timeout }, ""},
		{"plaintext HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, ErrNotTLS,
			func(f TLSFailures) uint64 { return f.NotTLS }, "HTTP/1.0 400 Bad Request"},
		{"reset after the ClientHello", hello, true, nil,
			func(f TLSFailures) uint64 { return f.PeerGone + f.Error }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.count(s.Stats().TLS.Failed)
			c, err := net.DialTimeout("tcp", tlsAddr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tc.send)
			if tc.reset {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			} else {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, _ := io.ReadAll(c) // the server closes
				c.Close()
				if tc.reply != "" && !strings.HasPrefix(string(got), tc.reply) {
					t.Errorf("read %q, want %q", got, tc.reply)
				}
			}
			waitFor(t, "the failure counted", func() bool { return tc.count(s.Stats().TLS.Failed) == before+1 })
		})
	}
	select {
	case c := <-h.conns:
		t.Fatalf("OnOpen ran for a bad handshake (%v)", c.RemoteAddr())
	default:
	}
	roundTrip(t, plain, []byte("after"))
	if st := s.Stats().TLS; st.Handshakes != 0 || st.InProgress != 0 {
		t.Errorf("stats %+v: want no handshake done or under way", st)
	}
	waitFor(t, "handshake goroutines gone", func() bool { return runtime.NumGoroutine() <= base })
}

// TestTLSHandshakeErrorsMatch: a failed handshake's error matches
// ErrTLSHandshake and its cause, for a Client's dial too.
func TestTLSHandshakeErrorsMatch(t *testing.T) {
	err := handshakeError(ErrTLSHandshakeTimeout)
	var ne net.Error
	if !errors.Is(err, ErrTLSHandshake) || !errors.Is(err, ErrTLSHandshakeTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v: want ErrTLSHandshake, ErrTLSHandshakeTimeout and a net.Error with Timeout", err)
	}
}

// TestTLSHandshakeFlood: 2,000 connections that send half a ClientHello
// and stop cost no goroutine and no descriptor once they time out, and
// plaintext and TLS connections on the same loop are served meanwhile.
func TestTLSHandshakeFlood(t *testing.T) {
	const n = 2000
	h := &echoHandler{}
	s := serve(t, h, "tcp://127.0.0.1:0", WithAddrs("tcp4://127.0.0.1:0"), WithLoops(1),
		WithTLS(tlsServerConfig(t), "tcp4://127.0.0.1:0"), WithTLSHandshakeTimeout(2*time.Second))
	plainAddr, tlsAddr := s.Addrs()[0].String(), s.Addrs()[1].String()
	plain, err := net.DialTimeout("tcp", plainAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	roundTrip(t, plain, []byte("the loops are running"))
	fds := openFDs(t)
	base := runtime.NumGoroutine()
	hello := clientHello(t, tlsClientConfig(t))
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", tlsAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		c.Write(hello[:len(hello)-1])
		flood = append(flood, c)
	}
	if g := runtime.NumGoroutine(); g > base+10 {
		t.Errorf("%d goroutines with %d stalled handshakes, %d before: a stalled ClientHello must not cost one", g, n, base)
	}
	roundTrip(t, plain, []byte("served during the flood"))
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr, tlsClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip(t, tc, []byte("a real client during the flood"))
	waitFor(t, "the flood timed out", func() bool { return s.Stats().TLS.Failed.Timeout == n })
	for _, c := range flood {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bufio.NewReader(c).ReadByte(); err == nil {
			t.Fatal("a flood connection got a byte")
		}
		c.Close()
	}
	flood = nil
	tc.Close()
	waitFor(t, "descriptors back to baseline", func() bool { return openFDs(t) <= fds })
	if !eventually(10*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before the flood:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

// TestTLSOverload: past the handshake limits new handshakes wait, and
// past the waiting room they are refused with ErrTLSOverload.
func TestTLSOverload(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{}, 4)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		entered <- struct{}{}
		<-release
		p := thePKI(t).server
		return &p, nil
	}}
	s := serveTLS(t, &echoHandler{}, cfg, WithTLSHandshakeLimits(1, 1))
	defer once.Do(func() { close(release) })
	results := make(chan error, 3)
	dialOne := func() {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr().String(), tlsClientConfig(t))
		if err == nil {
			c.Close()
		}
		results <- err
	}
	go dialOne()
	recv(t, entered, "the first handshake running")
	go dialOne()
	waitFor(t, "the second handshake waiting", func() bool { return s.Stats().TLS.Waiting == 1 })
	go dialOne()
	if err := recv(t, results, "the third handshake"); err == nil {
		t.Fatal("third handshake succeeded past both limits")
	}
	if st := s.Stats().TLS; st.Failed.Overload != 1 {
		t.Errorf("stats %+v: want one overload", st)
	}
	once.Do(func() { close(release) })
	for i := 0; i < 2; i++ {
		if err := recv(t, results, "a waiting handshake"); err != nil {
			t.Errorf("handshake %d: %v", i, err)
		}
	}
}

// TestTLSShutdownDuringHandshakes: a shutdown ends handshakes under way
// — waiting for a ClientHello, running in a certificate lookup that
// heeds its context, waiting for a goroutine — promptly, counted as
// cut by the shutdown, with no goroutine left.
func TestTLSShutdownDuringHandshakes(t *testing.T) {
	entered := make(chan struct{}, 8)
	cfg := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		entered <- struct{}{}
		<-hi.Context().Done() // a lookup that never answers, but heeds its context
		return nil, hi.Context().Err()
	}}
	s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithTLS(cfg), WithTLSHandshakeLimits(2, 2),
		WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	hello := clientHello(t, tlsClientConfig(t))
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 4; i++ { // two running, one waiting; and one silent
		c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i < 3 {
			c.Write(hello)
		}
		if i < 2 {
			recv(t, entered, "a handshake in its lookup")
		}
	}
	waitFor(t, "one handshake waiting", func() bool { return s.Stats().TLS.Waiting == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if st := s.Stats().TLS; st.Failed.Shutdown != 4 || st.InProgress != 0 || st.Waiting != 0 {
		t.Errorf("stats %+v: want 4 cut by the shutdown, none left", st)
	}
}
