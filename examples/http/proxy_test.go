package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/proxyproto"
)

// TestProxyConfig: the flags -proxy-protocol and -proxy-trust.
func TestProxyConfig(t *testing.T) {
	for _, tc := range []struct {
		on      bool
		trust   string
		want    []string // the trusted networks; nil: loopback (mill's default)
		off     bool
		wantErr string
	}{
		{on: false, trust: "", off: true},
		{on: true, trust: ""},
		{on: true, trust: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{on: true, trust: "10.0.0.0/8, 192.168.1.0/24,2001:db8::/32", want: []string{"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"}},
		{on: true, trust: "192.0.2.7,::1", want: []string{"192.0.2.7/32", "::1/128"}},
		{on: true, trust: "10.0.0.0/33", wantErr: "not a network"},
		{on: true, trust: "example.com", wantErr: "not a network"},
		{on: true, trust: " , ", wantErr: "no network"},
		{on: false, trust: "10.0.0.0/8", wantErr: "needs -proxy-protocol"},
	} {
		p, err := ProxyConfig(tc.on, tc.trust)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v %q: error %v, want one saying %q", tc.on, tc.trust, err, tc.wantErr)
			}
			continue
		case err != nil:
			t.Errorf("%v %q: %v", tc.on, tc.trust, err)
			continue
		case tc.off:
			if p != nil {
				t.Errorf("%v %q: %+v, want off", tc.on, tc.trust, p)
			}
			continue
		case p == nil:
			t.Errorf("%v %q: off", tc.on, tc.trust)
			continue
		}
		var got []string
		for _, n := range p.Trusted {
			got = append(got, n.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") || p.Optional {
			t.Errorf("%v %q: trusted %v (optional %v), want %v", tc.on, tc.trust, got, p.Optional, tc.want)
		}
	}
}

// startProxied serves the command's handler requiring a PROXY header,
// trusting the networks of trust (empty: loopback).
func startProxied(t *testing.T, trust string) *mill.Server {
	t.Helper()
	p, err := ProxyConfig(true, trust)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig
	cfg.Loops, cfg.Proxy = 2, p
	return startConfig(t, cfg)
}

// rawGet sends pre (a PROXY header, or nothing) and a GET of path on a new
// connection and returns the response and its body.
func rawGet(t *testing.T, addr string, pre []byte, method, path string) (*http.Response, string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := append(pre, method+" "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"...)
	if _, err := c.Write(req); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestIPRoute: GET /ip answers with the client's IP address, no port,
// as the body's only line; HEAD has its headers; other methods get 405.
func TestIPRoute(t *testing.T) {
	base := "http://" + startServer(t, http1.Limits{})
	c := newClient(t)
	resp, body := do(t, c, "GET", base+"/ip", nil)
	if resp.StatusCode != 200 || body != "127.0.0.1\n" || resp.Header.Get("Content-Type") != textPlain {
		t.Errorf("GET /ip: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, c, "HEAD", base+"/ip", nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("127.0.0.1\n")) {
		t.Errorf("HEAD /ip: %d %q (length %d)", resp.StatusCode, body, resp.ContentLength)
	}
	resp, _ = do(t, c, "POST", base+"/ip", strings.NewReader("x"))
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ip: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// A query string is ignored, as on every route; HTTP/1.0 too.
	resp, body, err := rawGet(t, strings.TrimPrefix(base, "http://"), nil, "GET", "/ip?x=1")
	if err != nil || resp.StatusCode != 200 || body != "127.0.0.1\n" {
		t.Errorf("GET /ip?x=1: %v %v %q", err, resp, body)
	}
}

func proxyHeader(t *testing.T, version int, src, dst string) []byte {
	t.Helper()
	h := proxyproto.Header{Version: version, Command: proxyproto.Proxy, Family: proxyproto.FamilyInet, Transport: proxyproto.Stream,
		Source: netip.MustParseAddrPort(src), Destination: netip.MustParseAddrPort(dst)}
	if h.Source.Addr().Is6() {
		h.Family = proxyproto.FamilyInet6
	}
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIPRouteProxy: with -proxy-protocol, /ip reports the address the
// header gives; a request without a header, and a peer outside
// -proxy-trust, are refused without a response.
func TestIPRouteProxy(t *testing.T) {
	s := startProxied(t, "")
	addr := s.Addr().String()
	for _, tc := range []struct {
		name string
		pre  []byte
		want string
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.7 127.0.0.1 4242 8080\r\n"), "192.0.2.7\n"},
		{"v1 TCP6", proxyHeader(t, 1, "[2001:db8::7]:4242", "[2001:db8::1]:443"), "2001:db8::7\n"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1\n"},
		{"v2 IPv4", proxyHeader(t, 2, "198.51.100.9:1000", "127.0.0.1:8080"), "198.51.100.9\n"},
		{"v2 IPv4-mapped IPv6", proxyHeader(t, 2, "[::ffff:198.51.100.10]:1000", "[::ffff:127.0.0.1]:8080"), "198.51.100.10\n"},
		{"v2 LOCAL", []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"), "127.0.0.1\n"},
	} {
		resp, body, err := rawGet(t, addr, tc.pre, "GET", "/ip")
		if err != nil || resp.StatusCode != 200 || body != tc.want {
			t.Errorf("%s: %v, %v, %q; want 200 %q", tc.name, err, resp, body, tc.want)
		}
	}
	// Keep-alive: the header's address holds for the connection's
	// every request.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\nGET /ip HTTP/1.1\r\nHost: x\r\n\r\nGET /ip HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "203.0.113.5\n" {
			t.Errorf("response %d: %q", i, b)
		}
	}

	before := s.Stats().Proxy
	if _, _, err := rawGet(t, addr, nil, "GET", "/ip"); err == nil {
		t.Error("a request without a header was answered")
	}
	if _, _, err := rawGet(t, addr, []byte("PROXY TCP4 192.0.2.7 127.0.0.1 4242\r\n"), "GET", "/ip"); err == nil {
		t.Error("a request after a bad header was answered")
	}
	waitStats(t, s, func(p mill.ProxyStats) bool {
		return p.Failed.Missing == before.Failed.Missing+1 && p.Failed.Invalid == before.Failed.Invalid+1
	})

	// A peer outside -proxy-trust is refused, header or not.
	other := startProxied(t, "192.0.2.0/24")
	if _, _, err := rawGet(t, other.Addr().String(), []byte("PROXY TCP4 192.0.2.7 127.0.0.1 4242 8080\r\n"), "GET", "/ip"); err == nil {
		t.Error("a peer outside -proxy-trust was answered")
	}
	waitStats(t, other, func(p mill.ProxyStats) bool { return p.Failed.Untrusted == 1 && p.Headers == 0 })
}

// waitStats polls s's PROXY protocol counters until cond holds.
func waitStats(t *testing.T, s *mill.Server, cond func(mill.ProxyStats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(s.Stats().Proxy) {
		if time.Now().After(deadline) {
			t.Fatalf("PROXY stats: %+v", s.Stats().Proxy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCurlHAProxyProtocol: curl's --haproxy-protocol sends a v1 header
// with its own addresses before the request; mill takes it and /ip
// answers with curl's address. Without the option curl gets no answer.
func TestCurlHAProxyProtocol(t *testing.T) {
	curl := needTool(t, "curl")
	s := startProxied(t, "")
	url := "http://" + s.Addr().String() + "/ip"
	out, _ := run(t, nil, curl, "-sS", "--haproxy-protocol", url)
	if out != "127.0.0.1\n" {
		t.Errorf("curl --haproxy-protocol: %q", out)
	}
	if st := s.Stats().Proxy; st.Headers != 1 {
		t.Errorf("PROXY stats %+v, want one header", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out2, err := exec.CommandContext(ctx, curl, "-sS", "--max-time", "10", url).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("curl without --haproxy-protocol: %v (%q), want a failure", err, out2)
	}
	waitStats(t, s, func(p mill.ProxyStats) bool { return p.Failed.Missing == 1 })
}

// TestIPRouteProxyTLS: -proxy-protocol with -tls-self-signed: the header
// comes first, then the TLS handshake, and /ip reports the header's
// address.
func TestIPRouteProxyTLS(t *testing.T) {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil, "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig
	cfg.Loops, cfg.TLS = 2, certs.Config()
	if cfg.Proxy, err = ProxyConfig(true, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	s := startConfig(t, cfg)
	raw, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Write(proxyHeader(t, 2, "[2001:db8::42]:1234", "[2001:db8::1]:443")); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate().Leaf)
	c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if _, err := c.Write([]byte("GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "2001:db8::42\n" {
		t.Errorf("GET /ip over TLS after a v2 header: %d %q", resp.StatusCode, b)
	}
}

// TestHealthRoute: GET /health answers 200 "ready" while the server is
// ready, and 503 "draining" once it is marked not ready, though it still
// serves: what a balancer's health check polls before the server stops
// accepting.
func TestHealthRoute(t *testing.T) {
	cfg := DefaultConfig
	cfg.Loops = 1
	s := startConfig(t, cfg)
	<-s.Ready()
	base := "http://" + s.Addr().String()
	c := newClient(t)
	if resp, body := do(t, c, "GET", base+"/health", nil); resp.StatusCode != 200 || body != "ready\n" {
		t.Errorf("ready: %d %q", resp.StatusCode, body)
	}
	s.MarkNotReady()
	if resp, body := do(t, c, "GET", base+"/health", nil); resp.StatusCode != 503 || body != "draining\n" {
		t.Errorf("marked not ready: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, c, "GET", base+"/plaintext", nil); resp.StatusCode != 200 {
		t.Errorf("still serving: %d", resp.StatusCode)
	}
}
