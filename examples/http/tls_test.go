package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

// httpsServer is a server started as the command does with
// -tls-self-signed.
type httpsServer struct {
	s      *mill.Server
	addr   string // 127.0.0.1:port
	base   string // https://127.0.0.1:port
	client *tls.Config
	caFile string // the certificate, PEM, for openssl -CAfile
}

// startHTTPS serves HTTPS with the command's defaults, two loops and a
// self-signed certificate made by the command's flags, on a free port
// until the test ends.
func startHTTPS(t *testing.T) *httpsServer {
	t.Helper()
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil, "http/1.1") // as main does
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig
	cfg.Loops, cfg.TLS = 2, certs.Config()
	s := startConfig(t, cfg)
	leaf := certs.Certificate().Leaf
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	caFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	return &httpsServer{s: s, addr: addr, base: "https://" + addr, caFile: caFile,
		client: &tls.Config{RootCAs: roots, ServerName: "localhost"}}
}

// TestHTTPSClient: net/http over TLS, verifying the certificate as
// localhost, negotiates http/1.1 by ALPN (it offers h2 first) and gets
// the usual answers on one kept-alive connection.
func TestHTTPSClient(t *testing.T) {
	hs := startHTTPS(t)
	tr := &http.Transport{TLSClientConfig: hs.client, ForceAttemptHTTP2: true, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	payload := randomBytes(300<<10, 21)
	for i := range 3 {
		resp, body := do(t, c, "GET", hs.base+"/plaintext", nil)
		if resp.StatusCode != 200 || body != "Hello, World!" || resp.Proto != "HTTP/1.1" {
			t.Fatalf("GET %d: %s %d %q", i, resp.Proto, resp.StatusCode, body)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("GET %d: TLS state %+v", i, resp.TLS)
		}
		resp, body = do(t, c, "POST", hs.base+"/echo", bytes.NewReader(payload))
		if resp.StatusCode != 200 || body != string(payload) {
			t.Fatalf("POST %d: %d, %d bytes back of %d", i, resp.StatusCode, len(body), len(payload))
		}
	}
	if n := hs.s.Stats().TLS.Handshakes; n != 1 {
		t.Errorf("%d handshakes, want 1 (keep-alive)", n)
	}
}

// TestCurlHTTPS: curl -k gets over https what it gets over http, and
// --http1.1 with two URLs in one invocation reuses the connection.
func TestCurlHTTPS(t *testing.T) {
	curl := needTool(t, "curl")
	hs := startHTTPS(t)

	out, stderr := run(t, nil, curl, "-sS", "-k", "-v", "-i", hs.base+"/")
	if status, _, body := curlResponse(t, out); status != "HTTP/1.1 404 Not Found" || body != "404 Not Found\n" {
		t.Errorf("/: %q, body %q", status, body)
	}
	if !strings.Contains(stderr, "ALPN: server accepted http/1.1") && !strings.Contains(stderr, "ALPN, server accepted to use http/1.1") {
		t.Errorf("/: no ALPN http/1.1 in\n%s", stderr)
	}

	out, _ = run(t, nil, curl, "-sS", "-k", "-i", hs.base+"/plaintext")
	if status, header, body := curlResponse(t, out); status != "HTTP/1.1 200 OK" || body != "Hello, World!" ||
		!strings.Contains(header, "Content-Length: 13\r\n") {
		t.Errorf("/plaintext: %q, body %q\n%s", status, body, header)
	}

	// Verified properly, with the certificate as the CA.
	out, _ = run(t, nil, curl, "-sS", "-i", "--cacert", hs.caFile, "--resolve", "localhost:"+port(hs.addr)+":127.0.0.1",
		"https://localhost:"+port(hs.addr)+"/json")
	if status, _, body := curlResponse(t, out); status != "HTTP/1.1 200 OK" || body != `{"message":"Hello, World!"}` {
		t.Errorf("/json verified: %q, body %q", status, body)
	}

	_, stderr = run(t, nil, curl, "-sS", "-k", "--http1.1", "-v", "-o", os.DevNull, "-o", os.DevNull,
		hs.base+"/plaintext", hs.base+"/json")
	if !strings.Contains(stderr, "Re-using existing connection") {
		t.Errorf("curl opened a second connection:\n%s", stderr)
	}

	payload := bytes.Repeat([]byte("mill\x00\r\n"), 20000)
	out, _ = run(t, payload, curl, "-sS", "-k", "-i", "--data-binary", "@-", hs.base+"/echo")
	if status, _, body := curlResponse(t, out); status != "HTTP/1.1 200 OK" || body != string(payload) {
		t.Errorf("echo: %q, %d bytes back of %d", status, len(body), len(payload))
	}
}

// port returns addr's port.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestWrkHTTPS runs wrk over https for a second with a few connections:
// requests, and no errors.
func TestWrkHTTPS(t *testing.T) {
	wrk := needTool(t, "wrk")
	hs := startHTTPS(t)
	for _, args := range [][]string{
		{"-t1", "-c4", "-d1s", hs.base + "/plaintext"},
		{"-t1", "-c4", "-d1s", hs.base + "/json"},
	} {
		out, _ := run(t, nil, wrk, args...)
		m := wrkRequests.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("wrk %v: no request count in\n%s", args, out)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("wrk %v: no requests\n%s", args, out)
		}
		if strings.Contains(out, "Non-2xx or 3xx responses") {
			t.Errorf("wrk %v: error responses\n%s", args, out)
		}
		if m := wrkSocket.FindStringSubmatch(out); m != nil && m[1]+m[2]+m[3]+m[4] != "0000" {
			t.Errorf("wrk %v: socket errors\n%s", args, out)
		}
		t.Logf("wrk %v: %s requests", args, m[1])
	}
	// wrk closes a connection of its own before the run (PeerGone, once
	// per run); any other failure is one.
	if f := hs.s.Stats().TLS.Failed; f.NotTLS+f.Timeout+f.Overload+f.Error+f.Shutdown != 0 {
		t.Errorf("failed handshakes: %+v", f)
	}
}

// TestPlainHTTPToTLSPort: a plaintext request to the TLS port is
// answered "HTTP/1.0 400 Bad Request" (by mill, which sees it is no
// ClientHello) and the connection closes; HTTPS on the same port goes
// on working.
func TestPlainHTTPToTLSPort(t *testing.T) {
	hs := startHTTPS(t)
	c, err := net.DialTimeout("tcp", hs.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(got), "HTTP/1.0 400 Bad Request\r\n") {
		t.Errorf("got %q, %v; want HTTP/1.0 400 Bad Request, then EOF", got, err)
	}
	// mill shut its sending side after the 400 and reads on for a while
	// (a lingering close) before it closes and counts the connection:
	// closing ours ends that at once.
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); hs.s.Stats().TLS.Failed.NotTLS != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().TLS.Failed = %+v, want NotTLS 1", hs.s.Stats().TLS.Failed)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := exec.LookPath("curl"); err == nil || os.Getenv("MILL_REQUIRE_TOOLS") != "" {
		out, _ := run(t, nil, needTool(t, "curl"), "-sS", "-i", "http://"+hs.addr+"/plaintext")
		if !strings.HasPrefix(out, "HTTP/1.0 400 Bad Request\r\n") {
			t.Errorf("curl http:// to the TLS port: %q", out)
		}
	} else {
		t.Log("curl not installed (apt-get install curl): its part of the test skipped")
	}
	tr := &http.Transport{TLSClientConfig: hs.client}
	t.Cleanup(tr.CloseIdleConnections)
	if resp, body := do(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "GET", hs.base+"/plaintext", nil); resp.StatusCode != 200 || body != "Hello, World!" {
		t.Errorf("HTTPS after: %d %q", resp.StatusCode, body)
	}
}

// sClient runs `openssl s_client -connect addr` with args more and
// stdin, and returns its stdout and stderr. With -ign_eof it reads
// until the server closes.
func sClient(t *testing.T, openssl, addr string, stdin string, args ...string) (string, string) {
	t.Helper()
	return run(t, []byte(stdin), openssl, append([]string{"s_client", "-connect", addr}, args...)...)
}

// closeRequest asks for /plaintext and has the server close after it,
// so that s_client -ign_eof ends.
const closeRequest = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

// TestOpenSSLHTTP drives the server with openssl s_client: ALPN
// http/1.1, SNI localhost with the certificate verified for that name,
// TLS 1.2 and 1.3, and a request answered over it.
func TestOpenSSLHTTP(t *testing.T) {
	openssl := needTool(t, "openssl")
	hs := startHTTPS(t)
	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		out, stderr := sClient(t, openssl, hs.addr, closeRequest, version, "-ign_eof",
			"-alpn", "http/1.1", "-servername", "localhost",
			"-CAfile", hs.caFile, "-verify_hostname", "localhost", "-verify_return_error")
		for _, want := range []string{
			"ALPN protocol: http/1.1",
			"Verify return code: 0 (ok)",
			"HTTP/1.1 200 OK\r\n",
			"\r\n\r\nHello, World!",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s\nstderr:\n%s", version, want, out, stderr)
			}
		}
		want := map[string]string{"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[version]
		if !strings.Contains(out, "New, "+want+", Cipher is ") {
			t.Errorf("%s: not a new %s session:\n%s", version, want, out)
		}
	}
	// ALPN offering only a protocol the server does not speak: refused
	// (no_application_protocol), as crypto/tls does.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, openssl, "s_client", "-connect", hs.addr, "-alpn", "h2", "-servername", "localhost").CombinedOutput()
	if !strings.Contains(string(out), "no application protocol") {
		t.Errorf("-alpn h2: not refused:\n%s", out)
	}
}

// reused matches s_client's summary line of a resumed session.
var reused = regexp.MustCompile(`(?m)^Reused, (TLSv1\.[23]), `)

// TestOpenSSLResumption: s_client -reconnect resumes its TLS 1.2 session
// on each of its five reconnections (OpenSSL 3.0 resumes nothing with
// -reconnect over TLS 1.3: it reconnects before reading the session
// ticket, whatever the server), and a TLS 1.3 session saved with
// -sess_out is resumed with -sess_in. The server counts the resumptions.
func TestOpenSSLResumption(t *testing.T) {
	openssl := needTool(t, "openssl")
	hs := startHTTPS(t)

	out, stderr := sClient(t, openssl, hs.addr, "", "-tls1_2", "-reconnect", "-servername", "localhost")
	if n := len(reused.FindAllString(out, -1)); n != 5 {
		t.Errorf("-reconnect: %d of 5 reconnections resumed:\n%s\nstderr:\n%s", n, grepSessions(out), stderr)
	}

	sess := filepath.Join(t.TempDir(), "session.pem")
	out, _ = sClient(t, openssl, hs.addr, closeRequest, "-tls1_3", "-ign_eof", "-servername", "localhost", "-sess_out", sess)
	if !strings.Contains(out, "New, TLSv1.3, ") || !strings.Contains(out, "Hello, World!") {
		t.Fatalf("-sess_out: %s", out)
	}
	out, _ = sClient(t, openssl, hs.addr, closeRequest, "-tls1_3", "-ign_eof", "-servername", "localhost", "-sess_in", sess)
	if m := reused.FindStringSubmatch(out); m == nil || m[1] != "TLSv1.3" || !strings.Contains(out, "Hello, World!") {
		t.Errorf("-sess_in: not resumed, or no answer:\n%s", out)
	}
	st := hs.s.Stats().TLS
	if st.Resumed != 6 || st.Handshakes != 8 {
		t.Errorf("server: %d handshakes, %d resumed; want 8 and 6", st.Handshakes, st.Resumed)
	}
}

// grepSessions keeps s_client's New/Reused summary lines.
func grepSessions(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "New, ") || strings.HasPrefix(line, "Reused, ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOpenSSLKeyUpdate uses s_client's interactive commands over TLS
// 1.3: "K" sends a KeyUpdate that asks the server to update its keys
// too, "k" one that does not; then a request is answered. -msg shows
// the KeyUpdate messages: two sent, and one received, the server's
// answer to "K".
func TestOpenSSLKeyUpdate(t *testing.T) {
	openssl := needTool(t, "openssl")
	hs := startHTTPS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Without -quiet and -ign_eof, which turn the command letters off.
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", hs.addr, "-tls1_3", "-servername", "localhost", "-msg")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() { // after a failure: the deferred cancel has killed it
		if !waited {
			cmd.Wait()
		}
	})
	// waitFor polls until cond holds, or fails after 10 s. Each line
	// waits for s_client to have acted on the one before: a command
	// letter must come alone, in a read of its own (s_client drops what
	// follows it in the same read).
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 10 s\nstdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("handshake", func() bool { return strings.Contains(stdout.String(), "New, TLSv1.3, ") })
	for i, cmdLetter := range []string{"K\n", "k\n"} {
		if _, err := io.WriteString(stdin, cmdLetter); err != nil {
			t.Fatal(err)
		}
		waitFor("KEYUPDATE "+strconv.Itoa(i+1), func() bool { return strings.Count(stderr.String(), "KEYUPDATE\n") == i+1 })
	}
	if _, err := io.WriteString(stdin, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor("response", func() bool { return strings.Contains(stdout.String(), "\r\n\r\nHello, World!") })
	stdin.Close() // end of input: s_client closes and exits
	waited = true
	if err := cmd.Wait(); err != nil {
		t.Errorf("s_client: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	sent := regexp.MustCompile(`(?m)^>>> TLS 1\.3, Handshake \[length [0-9a-f]+\], KeyUpdate`).FindAllString(out, -1)
	received := regexp.MustCompile(`(?m)^<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], KeyUpdate`).FindAllString(out, -1)
	if len(sent) != 2 || len(received) != 1 {
		t.Errorf("KeyUpdates: %d sent (want 2), %d received (want 1)\n%s", len(sent), len(received), out)
	}
	if !strings.Contains(out, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("no response after the KeyUpdates:\n%s", out)
	}
}
