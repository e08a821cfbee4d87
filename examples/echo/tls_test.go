package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mill-io/mill/examples/internal/tlsflag"
)

// startTLS serves the echo as the command does with -tls-self-signed,
// on a free port until the test ends, and returns its address and a
// client configuration that trusts its certificate.
func startTLS(t testing.TB) (addr string, client *tls.Config) {
	t.Helper()
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-self-signed"}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaults
	cfg.loops = 2
	cfg.tls = certs.Config()
	s := startConfig(t, cfg)
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate().Leaf)
	return s.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"}
}

// needTool returns the path of an external client, skipping the test if
// it is not installed, unless MILL_REQUIRE_TOOLS is set (as in CI).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed (MILL_REQUIRE_TOOLS is set): apt-get install %s", name, pkg)
		}
		t.Skipf("%s not installed: apt-get install %s", name, pkg)
	}
	return p
}

// TestTLSEcho talks to the echo over TLS 1.2 and 1.3 with Go's
// crypto/tls client, verifying the self-signed certificate as
// localhost: a 1-byte round trip, then 1 MiB written while the echo is
// read concurrently, then close_notify from the client, after which the
// server's side ends too (its close_notify and FIN: a clean EOF).
func TestTLSEcho(t *testing.T) {
	addr, client := startTLS(t)
	data := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{15}).Read(data)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := client.Clone()
		cfg.MinVersion, cfg.MaxVersion = version, version
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			t.Fatalf("%s: handshake: %v", tls.VersionName(version), err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if v := c.ConnectionState().Version; v != version {
			t.Errorf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(version))
		}

		if _, err := c.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(c, one); err != nil || one[0] != 'x' {
			t.Fatalf("%s: 1-byte echo %q, %v", tls.VersionName(version), one, err)
		}

		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.CloseWrite() // close_notify
			}
			werr <- err
		}()
		got, err := io.ReadAll(c) // until the server's close_notify
		if werr := <-werr; werr != nil {
			t.Fatalf("%s: write: %v", tls.VersionName(version), werr)
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d of %d bytes echoed (equal: %v), then %v",
				tls.VersionName(version), len(got), len(data), bytes.Equal(got, data), err)
		}
	}
}

// TestOpenSSLEcho pipes a line through `openssl s_client -quiet`: it
// comes back, and at the end of its input s_client closes cleanly.
func TestOpenSSLEcho(t *testing.T) {
	openssl := needTool(t, "openssl", "openssl")
	addr, _ := startTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// -quiet implies -ign_eof (keep going after the end of input, for
	// the server's answer); -no_ign_eof after it undoes that, so that
	// closing stdin, once the echo is in, ends s_client.
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-servername", "localhost", "-quiet", "-no_ign_eof")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const line = "hello, mill over TLS\n"
	if _, err := io.WriteString(stdin, line); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(stdout).ReadString('\n') // the context ends it if nothing comes
	if got != line {
		t.Errorf("echo %q, %v; want %q", got, err, line)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("s_client: %v\n%s", err, stderr.String())
	}
}

// TestTLSReload is certificate reload without a restart, through mill:
// the echo serves -tls-cert and -tls-key; the files are replaced and
// reloaded (what a SIGHUP does), and the next handshake gets the new
// certificate while a connection made before keeps working; files that
// do not make a pair fail to reload and change nothing.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair := func() []byte {
		t.Helper()
		certPEM, keyPEM, err := tlsflag.SelfSigned(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
			if err := os.WriteFile(name+".new", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(name+".new", name); err != nil {
				t.Fatal(err)
			}
		}
		block, _ := pem.Decode(certPEM)
		return block.Bytes
	}
	first := writePair()
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	f := tlsflag.Register(fs)
	if err := fs.Parse([]string{"-tls-cert", certFile, "-tls-key", keyFile}); err != nil {
		t.Fatal(err)
	}
	certs, err := f.Load(log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaults
	cfg.loops = 2
	cfg.tls = certs.Config()
	addr := startConfig(t, cfg).Addr().String()

	// dial makes a full handshake, checks an echo, and returns the
	// connection and the certificate it got.
	dial := func() (*tls.Conn, []byte) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		roundTrip(t, c, "ping\n")
		return c, c.ConnectionState().PeerCertificates[0].Raw
	}
	old, got := dial()
	if !bytes.Equal(got, first) {
		t.Fatal("not the first certificate")
	}
	second := writePair()
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, got := dial(); !bytes.Equal(got, second) {
		t.Error("a handshake after the reload did not get the new certificate")
	}
	roundTrip(t, old, "still here\n")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Error("a broken key reloaded")
	}
	if _, got := dial(); !bytes.Equal(got, second) {
		t.Error("a failed reload changed the certificate")
	}
}

// roundTrip writes msg on c and reads it back.
func roundTrip(t *testing.T, c io.ReadWriter, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q, %v; want %q", buf, err, msg)
	}
}
