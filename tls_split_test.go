//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// splitConn is a client's net.Conn that controls how its bytes reach
// the server: one byte per write (oneByte), or held back (hold) until
// release sends them together in one write.
type splitConn struct {
	net.Conn
	mu      sync.Mutex
	oneByte bool
	hold    bool
	held    []byte
	// after, if set, runs after each write reaches the socket: the test
	// waits there until the server has read it, so that every piece
	// arrives in a read of its own.
	after func(n int)
}

func (c *splitConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if !c.oneByte {
		return c.Conn.Write(p)
	}
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		if c.after != nil {
			c.after(1)
		}
	}
	return len(p), nil
}

func (c *splitConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	_, err := c.Conn.Write(c.held)
	c.held = nil
	return err
}

// bytesInAtLeast waits until the server has read n bytes in all.
func bytesInAtLeast(t *testing.T, s *Server, n uint64) {
	t.Helper()
	waitFor(t, "the server to read the piece", func() bool { return s.Stats().Total.BytesIn >= n })
}

// TestTLSOneByteAtATime: a client whose every byte arrives on its own —
// the ClientHello, the Finished, the records — completes the handshake
// and is echoed the same plaintext.
func TestTLSOneByteAtATime(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		s := serveTLS(t, &echoHandler{}, nil)
		raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var sent uint64
		sc := &splitConn{Conn: raw, oneByte: true}
		sc.after = func(n int) {
			sent += uint64(n)
			bytesInAtLeast(t, s, sent)
		}
		cfg := tlsClientConfig(t)
		cfg.MaxVersion = v
		c := tls.Client(sc, cfg)
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("version %x: %v", v, err)
		}
		roundTrip(t, c, []byte("byte by byte"))
	}
}

// TestTLSSplitEverywhere: the client's first flight split in two at
// every position, each part in a read of its own, still completes the
// handshake; and so does its second flight (the Finished), split at
// every position.
func TestTLSSplitEverywhere(t *testing.T) {
	cfg := tlsClientConfig(t)
	cfg.CurvePreferences = []tls.CurveID{tls.X25519} // a short ClientHello keeps the test quick
	s := serveTLS(t, &echoHandler{}, nil)
	hello := clientHello(t, cfg)
	step := 1
	if testing.Short() {
		step = 17
	}
	for cut := 1; cut < len(hello); cut += step {
		splitHandshake(t, s, cfg, 0, cut)
	}
	for cut := 1; cut < 60; cut += step { // TLS 1.3's client Finished flight: a CCS and a 58-byte record
		splitHandshake(t, s, cfg, 1, cut)
	}
}

// splitHandshake runs one handshake whose write number which (0: the
// ClientHello) is split at cut, and an echo after it.
func splitHandshake(t *testing.T, s *Server, cfg *tls.Config, which, cut int) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := &cutConn{Conn: raw, which: which, cut: cut, s: s, t: t}
	c := tls.Client(w, cfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("write %d cut at %d: %v", which, cut, err)
	}
	msg := []byte{byte(which), byte(cut >> 8), byte(cut)}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("write %d cut at %d: echo %v, %v", which, cut, got, err)
	}
}

// cutConn splits its write number which at cut, waiting between the
// two parts until the server has read the first.
type cutConn struct {
	net.Conn
	which, cut, n int
	s             *Server
	t             *testing.T
}

func (c *cutConn) Write(p []byte) (int, error) {
	i := c.n
	c.n++
	if i != c.which || c.cut >= len(p) {
		return c.Conn.Write(p)
	}
	before := c.s.Stats().Total.BytesIn
	if _, err := c.Conn.Write(p[:c.cut]); err != nil {
		return 0, err
	}
	bytesInAtLeast(c.t, c.s, before+uint64(c.cut))
	n, err := c.Conn.Write(p[c.cut:])
	return c.cut + n, err
}

// TestTLSPipelinedAfterHandshake: a TLS 1.3 client's Finished and its
// first request in one segment. The request came with the handshake's
// last flight, so no readiness event will announce it: the server must
// answer it without more bytes from the client.
func TestTLSPipelinedAfterHandshake(t *testing.T) {
	s := serveTLS(t, &echoHandler{}, nil)
	for i := 0; i < 20; i++ {
		raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// The ClientHello goes; the Finished and the request wait.
		sc := &splitConn{Conn: raw}
		first := true
		c := tls.Client(&holdAfter{splitConn: sc, first: &first}, tlsClientConfig(t))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("pipelined")); err != nil {
			t.Fatal(err)
		}
		if err := sc.release(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("pipelined"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "pipelined" {
			t.Fatalf("round %d: read %q, %v; want the echo without sending more", i, got, err)
		}
		c.Close()
	}
}

// holdAfter sends the first write (the ClientHello) and holds every
// later one until release.
type holdAfter struct {
	*splitConn
	first *bool
}

func (h *holdAfter) Write(p []byte) (int, error) {
	if *h.first {
		*h.first = false
		return h.splitConn.Write(p)
	}
	h.splitConn.mu.Lock()
	h.splitConn.hold = true
	h.splitConn.mu.Unlock()
	return h.splitConn.Write(p)
}

// TestTLSManyRecordsInOneSegment: a hundred small records arriving
// together are all delivered, though only one readiness event announces
// them (crypto/tls reads them in one go); with a read buffer smaller
// than a record too.
func TestTLSManyRecordsInOneSegment(t *testing.T) {
	for _, bufCap := range []int{DefaultReadBufferCap, 4096} {
		s := serveTLS(t, &echoHandler{}, nil, WithReadBufferCap(bufCap))
		raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sc := &splitConn{Conn: raw}
		c := tls.Client(sc, tlsClientConfig(t))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 5; round++ {
			sc.mu.Lock()
			sc.hold = true
			sc.mu.Unlock()
			var want []byte
			for i := 0; i < 100; i++ {
				m := []byte{byte(round), byte(i), 'x'}
				if round == 4 {
					m = randomBytes(20000) // records of 16 KiB and the rest
				}
				want = append(want, m...)
				c.Write(m)
			}
			if err := sc.release(); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read buffer %d, round %d: %v (%d bytes)", bufCap, round, err, len(got))
			}
		}
		c.Close()
	}
}

func TestRecordCounter(t *testing.T) {
	var stream []byte
	for _, n := range []int{0, 1, 100, 16384, 3} {
		stream = append(stream, 23, 3, 3, byte(n>>8), byte(n))
		stream = append(stream, make([]byte, n)...)
	}
	for step := 1; step < 40; step += 3 {
		var r recordCounter
		for i := 0; i < len(stream); i += step {
			r.add(stream[i:min(i+step, len(stream))])
		}
		if r.complete != 5 {
			t.Fatalf("fed %d bytes at a time: %d records, want 5", step, r.complete)
		}
	}
	var r recordCounter
	r.add(stream[:len(stream)-1])
	if r.complete != 4 {
		t.Fatalf("all but the last byte: %d records, want 4", r.complete)
	}
}
