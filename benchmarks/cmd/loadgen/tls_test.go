package main

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

// tlsEcho is an in-process crypto/tls echo server. With noClose it keeps
// connections open after the client's close_notify (a server that never
// finishes); with plain it speaks no TLS at all.
type tlsEcho struct {
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	handled int
}

func startTLSEcho(t *testing.T, cfgMod func(*tls.Config)) *tlsEcho {
	t.Helper()
	var f tlscert.Flags
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfgMod != nil {
		cfgMod(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsEcho{ln: tls.NewListener(ln, cfg)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.handled++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				buf := make([]byte, 16<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *tlsEcho) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *tlsEcho) addr() string { return s.ln.Addr().String() }

func testOptions(t *testing.T, addr string) options {
	t.Helper()
	cfg, err := clientConfig("1.3", "x25519")
	if err != nil {
		t.Fatal(err)
	}
	return options{addr: addr, conns: 4, size: 64, pipeline: 1,
		duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, ioTimeout: 2 * time.Second,
		tls:  cfg,
		dial: dialConfig{addr: addr, conc: 2, retries: 0, timeout: 5 * time.Second, tls: cfg}}
}

func TestClientConfig(t *testing.T) {
	for _, c := range []struct {
		version, curve string
		ok             bool
	}{{"1.3", "x25519", true}, {"1.2", "p256", true}, {"1.3", "default", true}, {"1.1", "x25519", false}, {"1.3", "x448", false}} {
		cfg, err := clientConfig(c.version, c.curve)
		if (err == nil) != c.ok {
			t.Errorf("%s/%s: err %v", c.version, c.curve, err)
			continue
		}
		if err == nil && (cfg.ClientSessionCache != nil || cfg.MinVersion != cfg.MaxVersion) {
			t.Errorf("%s/%s: session cache %v, versions %x..%x", c.version, c.curve, cfg.ClientSessionCache, cfg.MinVersion, cfg.MaxVersion)
		}
	}
}

// TestTLSLoad runs echo and bulk over TLS against the in-process server
// and checks what was negotiated.
func TestTLSLoad(t *testing.T) {
	phaseOut = io.Discard
	s := startTLSEcho(t, nil)
	o := testOptions(t, s.addr())
	r := runLoad(o)
	if r.Errors != 0 || r.Messages == 0 || r.Established != 4 {
		t.Fatalf("64 B: %+v", r)
	}
	if r.TLS == nil || r.TLS.Version != "TLS 1.3" || r.TLS.Curve != "X25519" {
		t.Fatalf("negotiated %+v", r.TLS)
	}
	o.conns, o.size = 2, 64<<10
	if r := runLoad(o); r.Errors != 0 || r.Messages == 0 {
		t.Fatalf("64 KiB: %+v", r)
	}
	printHuman(io.Discard, r)
}

// TestTLSLoadPlainServer: a server that does not speak TLS fails the set-up.
func TestTLSLoadPlainServer(t *testing.T) {
	phaseOut = io.Discard
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	o := testOptions(t, ln.Addr().String())
	if r := runLoad(o); r.Errors == 0 || !strings.Contains(r.FirstError, "tls handshake") {
		t.Fatalf("not reported: %+v", r)
	}
}

// TestHandshakeMode counts full handshakes, never resumed ones, and each
// against a server that closed after the client's close_notify.
func TestHandshakeMode(t *testing.T) {
	phaseOut = io.Discard
	s := startTLSEcho(t, nil)
	o := testOptions(t, s.addr())
	o.conns = 2
	r := runHandshake(o)
	if r.Errors != 0 || r.Messages == 0 || r.Mode != "handshake" || r.TLS == nil || r.TLS.Cipher == "" {
		t.Fatalf("%+v", r)
	}
	s.mu.Lock()
	handled := s.handled
	s.mu.Unlock()
	if uint64(handled) < r.Messages {
		t.Fatalf("%d handshakes counted, server accepted %d connections", r.Messages, handled)
	}
	printHuman(io.Discard, r)

	// TLS 1.2 too.
	o.tls, _ = clientConfig("1.2", "p256")
	if r := runHandshake(o); r.Errors != 0 || r.TLS == nil || r.TLS.Version != "TLS 1.2" || r.TLS.Curve != "CurveP256" {
		t.Fatalf("TLS 1.2: %+v %+v", r, r.TLS)
	}
}

// TestHandshakeResumedIsError: a handshake that resumed a session is not a
// full handshake.
func TestHandshakeResumedIsError(t *testing.T) {
	s := startTLSEcho(t, nil)
	cfg, _ := clientConfig("1.3", "x25519")
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	d := &net.Dialer{Timeout: time.Second}
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = handshakeOnce(d, s.addr(), cfg, 2*time.Second)
	}
	if err == nil || !strings.Contains(err.Error(), "resumed") {
		t.Fatalf("resumption not reported: %v", err)
	}
}

// TestHandshakeServerNeverCloses: a server that never closes after
// close_notify fails the handshake within the I/O timeout.
func TestHandshakeServerNeverCloses(t *testing.T) {
	var f tlscert.Flags
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, cfg)
		_ = tc.Handshake()
		held <- c
	}()
	ccfg, _ := clientConfig("1.3", "x25519")
	_, err = handshakeOnce(&net.Dialer{}, ln.Addr().String(), ccfg, 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("want a timeout, got %v", err)
	}
	(<-held).Close()
}
