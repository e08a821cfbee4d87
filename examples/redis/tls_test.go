package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

// startTLS serves the redis server with TLS, its certificate made by
// the command's -tls-self-signed, on a free port until the test ends.
// It returns the server, its port, a client configuration that trusts
// the certificate, and the certificate in a PEM file.
func startTLS(t *testing.T) (s *mill.Server, port string, client *tls.Config, caFile string) {
	t.Helper()
	fs := flag.NewFlagSet("redis", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil) // as main does
	if err != nil {
		t.Fatal(err)
	}
	s, _ = startServer(t, Config{}, mill.WithTLS(certs.Config()))
	_, port, _ = net.SplitHostPort(s.Addr().String())
	leaf := certs.Certificate().Leaf
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	caFile = filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, port, &tls.Config{RootCAs: roots, ServerName: "localhost"}, caFile
}

// TestTLSRaw speaks RESP over Go's crypto/tls client and checks the
// exact reply bytes, a 1 MiB value among them.
func TestTLSRaw(t *testing.T) {
	s, _, client, _ := startTLS(t)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	rc.do("PING\r\n", "+PONG\r\n")
	rc.do(cmd("SET", "k", "v"), "+OK\r\n")
	rc.do(cmd("GET", "k"), "$1\r\nv\r\n")
	big := strings.Repeat("0123456789abcdef", 1<<16)
	rc.do(cmd("SET", "big", big)+cmd("GET", "big"), "+OK\r\n$1048576\r\n"+big+"\r\n")
	rc.do(cmd("QUIT"), "+OK\r\n")
	rc.expectEOF()
}

// TestRedisCLITLS: redis-cli --tls, with --insecure and verifying the
// certificate for localhost, gets PONG and a SET/GET round trip; and
// redis-benchmark --tls runs without errors.
func TestRedisCLITLS(t *testing.T) {
	cli := tool(t, "redis-cli")
	_, port, _, caFile := startTLS(t)
	redis := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	insecure := []string{"--tls", "--insecure", "-p", port}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ping"}, "PONG\n"},
		{[]string{"set", "greeting", "hello over TLS"}, "OK\n"},
		{[]string{"get", "greeting"}, "hello over TLS\n"},
	} {
		if got := redis(append(insecure, tc.args...)...); got != tc.want {
			t.Errorf("redis-cli --tls --insecure %q: %q, want %q", tc.args, got, tc.want)
		}
	}
	verified := []string{"--tls", "--cacert", caFile, "--sni", "localhost", "-h", "127.0.0.1", "-p", port}
	if got := redis(append(verified, "get", "greeting")...); got != "hello over TLS\n" {
		t.Errorf("redis-cli --tls --cacert: %q", got)
	}
	// Commands on standard input, one connection.
	c := exec.Command(cli, insecure...)
	c.Stdin = strings.NewReader("set a 1\nincr a\nget a\nping\n")
	if out, err := c.Output(); err != nil || string(out) != "OK\n2\n2\nPONG\n" {
		t.Errorf("redis-cli --tls with commands on stdin: %q, %v", out, err)
	}
}

// TestRedisBenchmarkTLS runs redis-benchmark over TLS, pipelined, for
// a bounded number of requests.
func TestRedisBenchmarkTLS(t *testing.T) {
	bench := tool(t, "redis-benchmark")
	s, port, _, _ := startTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bench, "--tls", "--insecure", "-p", port, "-t", "set,get,incr",
		"-P", "8", "-n", "10000", "-c", "8", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark --tls: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), "\r", "\n")
	for _, test := range []string{"SET", "GET", "INCR"} {
		if !regexp.MustCompile(`(?m)^ ?` + test + `: [0-9.]+ requests per second`).MatchString(text) {
			t.Errorf("no result line for %s in:\n%s", test, text)
		}
	}
	if strings.Contains(text, "ERR") || strings.Contains(strings.ToLower(text), "error") {
		t.Errorf("redis-benchmark --tls reported errors:\n%s", text)
	}
	if st := s.Stats().TLS; st.Handshakes < 8 || st.Failed != (mill.TLSFailures{}) {
		t.Errorf("TLS stats: %+v", st)
	}
}
