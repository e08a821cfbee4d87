package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

// startTLSProxy runs the proxy terminating TLS, with a certificate made
// by the command's -tls-self-signed, in front of the plaintext upstream
// upstreamAddr, and returns it and a client configuration that trusts
// its certificate.
func startTLSProxy(t *testing.T, upstreamAddr string) (*proxy, *tls.Config) {
	t.Helper()
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil) // as main does
	if err != nil {
		t.Fatal(err)
	}
	p := startProxyTLS(t, upstreamAddr, certs.Config())
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate().Leaf)
	return p, &tls.Config{RootCAs: roots, ServerName: "localhost"}
}

// dialTLS makes a TLS connection to the proxy.
func dialTLS(t *testing.T, p *proxy, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", p.server.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("handshake with the proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tlsEchoThrough is echoThrough over TLS: data goes in pieces of varying
// size while the echo is read concurrently, then the sending side is shut
// (close_notify), and exactly data must come back, then the proxy's
// close_notify (io.ReadAll's clean end).
func tlsEchoThrough(c *tls.Conn, data []byte, seed uint64) error {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(seed, 2))
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(16<<10))
			if _, err := c.Write(rest[:n]); err != nil {
				werr <- err
				return
			}
			rest = rest[n:]
		}
		werr <- c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %v", err)
	}
	if err != nil {
		return fmt.Errorf("read after %d bytes: %v", len(got), err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("got %d bytes back, want %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
	return nil
}

// TestTLSProxyEcho: Go TLS clients, TLS 1.2 and 1.3, through the proxy
// terminating TLS to a plaintext mill echo server: a 1-byte and a 1 MiB
// round trip, each ending with the client's half-close, whose FIN goes
// up, whose echo's FIN comes back as the proxy's close_notify. Then
// nothing is left behind on either side.
func TestTLSProxyEcho(t *testing.T) {
	p, client := startTLSProxy(t, startEcho(t))
	for i, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := client.Clone()
		cfg.MinVersion, cfg.MaxVersion = version, version
		for j, size := range []int{1, 1 << 20} {
			c := dialTLS(t, p, cfg)
			if v := c.ConnectionState().Version; v != version {
				t.Errorf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(version))
			}
			seed := uint64(10*i + j)
			if err := tlsEchoThrough(c, randomBytes(seed, size), seed); err != nil {
				t.Fatalf("%s, %d bytes: %v", tls.VersionName(version), size, err)
			}
			c.Close()
		}
	}
	waitIdle(t, p)
	if st := p.server.Stats().TLS; st.Handshakes != 4 {
		t.Errorf("TLS stats: %+v; want 4 handshakes", st)
	}
	if up := p.client.Stats().Total; up.Accepted != 4 || up.Closed.Clean != 4 {
		t.Errorf("upstream: %d opened, %d closed cleanly; want 4 each (closed: %+v)", up.Accepted, up.Closed.Clean, up.Closed)
	}
}

// TestTLSProxyManyClients: 50 TLS clients at once, 64 KiB each.
func TestTLSProxyManyClients(t *testing.T) {
	p, client := startTLSProxy(t, startEcho(t))
	const clients, size = 50, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", p.server.Addr().String(), client)
			if err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
				return
			}
			defer c.Close()
			if err := tlsEchoThrough(c, randomBytes(uint64(100+i), size), uint64(i)); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitIdle(t, p)
}

// digestServer is a plaintext upstream that reads everything a
// connection sends until its FIN, then answers with the length and
// SHA-256 of what it read and closes: the answer can only come once the
// client's half-close has gone through the proxy.
type digestServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func startDigest(t *testing.T) *digestServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &digestServer{ln: ln}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.accepted.Add(1)
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				h := sha256.New()
				n, err := io.Copy(h, c)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%d %x\n", n, h.Sum(nil))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		d.wg.Wait()
	})
	return d
}

// TestTLSProxyHalfClose: a TLS client sends 300 KiB and shuts its
// sending side (close_notify, then FIN); the proxy passes the end of the
// stream on to the plaintext upstream as a FIN, and the upstream's
// answer, sent only then, still comes back over TLS, followed by the
// proxy's close_notify.
func TestTLSProxyHalfClose(t *testing.T) {
	up := startDigest(t)
	p, client := startTLSProxy(t, up.ln.Addr().String())
	data := randomBytes(77, 300<<10)
	c := dialTLS(t, p, client)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	want := fmt.Sprintf("%d %x\n", len(data), sha256.Sum256(data))
	if err != nil || string(got) != want {
		t.Fatalf("answer %q, %v; want %q, then a clean end", got, err, want)
	}
	// Writing after the close_notify is refused by the client itself.
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("write after CloseWrite succeeded")
	}
	waitIdle(t, p)
}

// TestTLSProxyRefusesPlaintext: a client speaking plaintext to the TLS
// port is closed without an upstream connection being made for it, and
// TLS clients are served all the same.
func TestTLSProxyRefusesPlaintext(t *testing.T) {
	up := startDigest(t)
	p, client := startTLSProxy(t, up.ln.Addr().String())
	c, err := net.DialTimeout("tcp", p.server.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "hello, this is no ClientHello\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("plaintext client: %v; want the connection closed", err)
	}
	tc := dialTLS(t, p, client)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(tc, "hi")
	tc.CloseWrite()
	if got, err := io.ReadAll(tc); err != nil || string(got) != fmt.Sprintf("2 %x\n", sha256.Sum256([]byte("hi"))) {
		t.Errorf("TLS client after: %q, %v", got, err)
	}
	waitIdle(t, p)
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream connections: %d, want 1 (the TLS client's)", n)
	}
	if f := p.server.Stats().TLS.Failed; f != (mill.TLSFailures{NotTLS: 1}) {
		t.Errorf("failed handshakes: %+v, want the plaintext client's (NotTLS)", f)
	}
}

// TestTLSProxyBulk: the proxy's backpressure with TLS on the client
// side. First a writer that never waits sends 32 MiB (8 under -race or
// -short) through to the echo while another goroutine reads it back:
// byte-identical, then the proxy's close_notify, twice. Then 8 MiB to an
// upstream that reads slowly: the proxy pauses the TLS connection
// (PauseReading) rather than buffer, and the upstream's digest of all
// of it comes back, with at most one read held per connection.
func TestTLSProxyBulk(t *testing.T) {
	size := 32 << 20
	if raceEnabled || testing.Short() {
		size = 8 << 20
	}
	p, client := startTLSProxy(t, startEcho(t))
	data := randomBytes(31, size)
	for run := range 2 {
		c := dialTLS(t, p, client)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.CloseWrite()
			}
			werr <- err
		}()
		n, err := readSame(c, data)
		if werr := <-werr; werr != nil {
			t.Fatalf("run %d: write: %v", run, werr)
		}
		if err != nil || n != len(data) {
			t.Fatalf("run %d: %d of %d bytes back, %v", run, n, len(data), err)
		}
		c.Close()
	}
	waitIdle(t, p)
	if st := p.server.Stats().Total; st.Closed.Clean != 2 {
		t.Errorf("downstream closed: %+v; want 2 clean closes", st.Closed)
	}

	addr, sinkDone := slowSink(t)
	ps, client := startTLSProxy(t, addr)
	c := dialTLS(t, ps, client)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	upload := randomBytes(32, 8<<20)
	if _, err := c.Write(upload); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if want := fmt.Sprintf("%d %x\n", len(upload), sha256.Sum256(upload)); err != nil || string(got) != want {
		t.Fatalf("answer %q, %v; want %q", got, err, want)
	}
	if err := <-sinkDone; err != nil {
		t.Fatalf("upstream: %v", err)
	}
	if ps.pauses.Load() == 0 {
		t.Error("the proxy never paused the TLS connection in front of a slow upstream")
	}
	waitIdle(t, ps)
	t.Logf("pauses: %d echoing, %d in front of the slow upstream", p.pauses.Load(), ps.pauses.Load())
}
