//go:build linux

package mill

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Client sends Finished, 3 records and FIN while the server's handshake
// goroutine is held in VerifyConnection: everything must be echoed.
func TestZZReviewPipelinedFIN(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	h := &funcHandler{
		traffic: func(c Conn) Action {
			b, _ := c.Next(-1)
			mu.Lock()
			got = append(got, b...)
			mu.Unlock()
			c.Write(b)
			return None
		},
	}
	scfg := tlsServerConfig(t)
	scfg.VerifyConnection = func(tls.ConnectionState) error { time.Sleep(300 * time.Millisecond); return nil }
	s := serveTLS(t, h, scfg)
	ccfg := tlsClientConfig(t)
	ccfg.MinVersion = tls.VersionTLS13
	c := dialTLS(t, s, ccfg)
	for _, m := range []string{"one,", "two,", "three"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c.NetConn().(*net.TCPConn).CloseWrite()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("echo %q err %v; server saw %q; stats %+v", b, err, got, s.Stats().Loops[0].Closed)
	if string(b) != "one,two,three" {
		t.Errorf("echo %q, want one,two,three", b)
	}
}

// Same, with the handler pausing reading in OnOpen and resuming later.
func TestZZReviewPausedFIN(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	h := &funcHandler{
		open: func(c Conn) ([]byte, Action) {
			c.PauseReading()
			go func() { time.Sleep(200 * time.Millisecond); c.Do(func(c Conn) { c.ResumeReading() }) }()
			return nil, None
		},
		traffic: func(c Conn) Action {
			b, _ := c.Next(-1)
			mu.Lock()
			got = append(got, b...)
			mu.Unlock()
			c.Write(b)
			return None
		},
	}
	scfg := tlsServerConfig(t)
	scfg.VerifyConnection = func(tls.ConnectionState) error { time.Sleep(300 * time.Millisecond); return nil }
	s := serveTLS(t, h, scfg)
	ccfg := tlsClientConfig(t)
	ccfg.MinVersion = tls.VersionTLS13
	c := dialTLS(t, s, ccfg)
	c.Write([]byte("hello"))
	c.NetConn().(*net.TCPConn).CloseWrite()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("echo %q err %v; server saw %q", b, err, got)
	if string(b) != "hello" {
		t.Errorf("echo %q, want hello", b)
	}
}

// A Client whose OnOpen returns Close: DialTLS must not return (nil, nil).
func TestZZReviewDialTLSOpenClose(t *testing.T) {
	ln := stdTLSEcho(t, tlsServerConfig(t))
	closes := 0
	var mu sync.Mutex
	h := &funcHandler{
		open:  func(c Conn) ([]byte, Action) { return nil, Close },
		close: func(c Conn, err error) Action { mu.Lock(); closes++; mu.Unlock(); return None },
	}
	cl := startClient(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := cl.DialTLS(ctx, "tcp", ln.Addr().String(), tlsClientConfig(t))
	t.Logf("DialTLS = %v, %v", c, err)
	if c == nil && err == nil {
		t.Error("DialTLS returned (nil, nil)")
	}
	// Plaintext for comparison.
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer pl.Close()
	c2, err2 := cl.DialContext(ctx, "tcp", pl.Addr().String())
	t.Logf("plain Dial = %v, %v", c2, err2)
}

// No sleep: how often does a quick request+FIN lose data?
func TestZZReviewPipelinedFINNoSleep(t *testing.T) {
	h := &funcHandler{
		traffic: func(c Conn) Action {
			b, _ := c.Next(-1)
			c.Write(b)
			return None
		},
	}
	s := serveTLS(t, h, nil)
	bad := 0
	for i := 0; i < 200; i++ {
		ccfg := tlsClientConfig(t)
		c, err := tls.Dial("tcp", s.Addr().String(), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		c.NetConn().(*net.TCPConn).CloseWrite()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		if string(b) != "hello" {
			bad++
		}
		c.Close()
	}
	t.Logf("%d/200 lost", bad)
}
