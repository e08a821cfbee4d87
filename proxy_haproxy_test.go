//go:build linux

package mill

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The PROXY protocol against the real thing: Debian's haproxy, started
// by the test, sends v1 and v2 headers (the latter with the CRC32C and
// UNIQUE_ID TLVs) to a mill server, and health-checks it through the
// same headers (a v2 check is a LOCAL header). The client dials from
// 127.0.0.2, so the address in the header is not HAProxy's own.

// needHAProxy returns the path of haproxy, skipping the test if it is not
// installed, unless MILL_REQUIRE_TOOLS is set (as in CI). It looks in
// /usr/sbin too, which a user's PATH may leave out.
func needHAProxy(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
		t.Fatal("haproxy not installed (MILL_REQUIRE_TOOLS is set): apt-get install haproxy")
	}
	t.Skip("haproxy not installed: apt-get install haproxy")
	return ""
}

// proxyReporter answers each line it receives with what mill says of the
// connection: its remote address and the PROXY header (version, command,
// the UNIQUE_ID TLV, whether a CRC32C TLV came (Parse verified it), the
// address family).
func proxyReporter() *funcHandler {
	return &funcHandler{traffic: func(c Conn) Action {
		in, _ := c.Peek(-1)
		used := 0
		for {
			i := bytes.IndexByte(in[used:], '\n')
			if i < 0 {
				break
			}
			used += i + 1
			c.Write([]byte(describeProxy(c) + "\n"))
		}
		c.Discard(used)
		return None
	}}
}

func describeProxy(c Conn) string {
	h, ok := c.Proxy()
	if !ok {
		return fmt.Sprintf("remote=%s header=none", c.RemoteAddr())
	}
	uid, _ := h.UniqueID()
	_, crc := h.CRC32C()
	return fmt.Sprintf("remote=%s v=%d cmd=%s uid=%s crc=%t fam=%s", c.RemoteAddr(), h.Version, h.Command, uid, crc, h.Family)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// haproxyInstance is a haproxy process run by a test.
type haproxyInstance struct {
	sock   string // its stats socket
	output string // the file its output goes to
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// startHAProxy runs haproxy with cfg (its stats socket is added) in the
// foreground until the test ends.
func startHAProxy(t *testing.T, bin, cfg string) *haproxyInstance {
	t.Helper()
	dir := t.TempDir()
	h := &haproxyInstance{sock: filepath.Join(dir, "stats.sock"), output: filepath.Join(dir, "output"), exited: make(chan struct{})}
	cfg = strings.Replace(cfg, "global\n", "global\n  stats socket "+h.sock+" mode 600 level admin\n", 1)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(h.output)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-f", path, "-db")
	cmd.Stdout, cmd.Stderr = out, out // a file: no copying goroutines
	// If the test binary dies, haproxy goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("haproxy (pid %d) did not exit when killed", cmd.Process.Pid)
		}
	})
	return h
}

// logs returns what haproxy has printed so far.
func (h *haproxyInstance) logs() string {
	b, _ := os.ReadFile(h.output)
	return string(b)
}

// serverStats asks the stats socket for "show stat" and returns, for each
// backend server (as "backend/server"), its columns by name.
func (h *haproxyInstance) serverStats() (map[string]map[string]string, error) {
	c, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("# "))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("show stat: %v in %q", err, b)
	}
	out := make(map[string]map[string]string)
	for _, row := range rows[1:] {
		m := make(map[string]string)
		for i, name := range rows[0] {
			if i < len(row) {
				m[name] = row[i]
			}
		}
		if sv := m["svname"]; sv != "FRONTEND" && sv != "BACKEND" {
			out[m["pxname"]+"/"+sv] = m
		}
	}
	return out, nil
}

// waitChecked polls the stats socket until every one of servers is UP
// with a passed layer-7 check (L7OK: mill answered the check's request,
// sent after the check's PROXY header), or fails the test.
func (h *haproxyInstance) waitChecked(t *testing.T, servers ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for {
		select {
		case <-h.exited:
			t.Fatalf("haproxy exited: %v\n%s", h.err, h.logs())
		default:
		}
		st, err := h.serverStats()
		if err == nil {
			ok := true
			last = ""
			for _, sv := range servers {
				m := st[sv]
				if m == nil || m["status"] != "UP" || m["check_status"] != "L7OK" {
					ok = false
				}
				if m != nil {
					last += fmt.Sprintf("%s: status %s, check %s (%s)\n", sv, m["status"], m["check_status"], m["last_chk"])
				} else {
					last += sv + ": not in show stat\n"
				}
			}
			if ok {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's servers not checked UP in time:\n%s\nhaproxy output:\n%s", last, h.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialFrom connects to addr from the loopback address 127.0.0.2, waiting
// for addr to accept (haproxy may still be binding).
func dialFrom(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := d.Dial("tcp", addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s from 127.0.0.2: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProxyProtocolHAProxy: HAProxy's send-proxy, send-proxy-v2 and
// send-proxy-v2 with proxy-v2-options crc32c,unique-id, in front of a
// mill server that requires the header: the handler sees the client's
// address and port, the UNIQUE_ID TLV as the frontend's unique-id-format
// made it, a verified CRC32C; HAProxy's health checks (a header, then a
// request mill answers; LOCAL for v2) pass, and mill counts them.
func TestProxyProtocolHAProxy(t *testing.T) {
	bin := needHAProxy(t)
	s := serve(t, proxyReporter(), "", WithProxyProtocol(ProxyProtocol{}))
	mill := s.Addr().String()
	ports := map[string]int{"v1": freePort(t), "v2": freePort(t), "v2crc": freePort(t)}
	// Each backend's check: the server's PROXY header (check-send-proxy),
	// then "check\n", and mill's answer must say what it made of the
	// header: a v1 check's header is "PROXY TCP4" with the check
	// connection's own addresses (HAProxy 2.6), a v2 one is LOCAL, so
	// mill keeps the connection's addresses either way.
	cfg := `global
  log stdout format raw local0 info
defaults
  mode tcp
  log global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  timeout check 2s
frontend fe_v1
  bind 127.0.0.1:{v1}
  default_backend be_v1
backend be_v1
  option tcp-check
  tcp-check send check\n
  tcp-check expect rstring ^remote=127\.0\.0\.1:[0-9]+\ v=1\ cmd=PROXY\ uid=\ crc=false\ fam=AF_INET\n
  server m {mill} send-proxy check check-send-proxy inter 100ms rise 1 fall 1
frontend fe_v2
  bind 127.0.0.1:{v2}
  default_backend be_v2
backend be_v2
  option tcp-check
  tcp-check send check\n
  tcp-check expect rstring ^remote=127\.0\.0\.1:[0-9]+\ v=2\ cmd=LOCAL
  server m {mill} send-proxy-v2 check check-send-proxy inter 100ms rise 1 fall 1
frontend fe_v2crc
  bind 127.0.0.1:{v2crc}
  unique-id-format mill-%ci:%cp
  default_backend be_v2crc
backend be_v2crc
  option tcp-check
  tcp-check send check\n
  tcp-check expect rstring ^remote=127\.0\.0\.1:[0-9]+\ v=2\ cmd=LOCAL
  server m {mill} send-proxy-v2 proxy-v2-options crc32c,unique-id check check-send-proxy inter 100ms rise 1 fall 1
`
	cfg = strings.NewReplacer("{mill}", mill, "{v1}", fmt.Sprint(ports["v1"]), "{v2}", fmt.Sprint(ports["v2"]),
		"{v2crc}", fmt.Sprint(ports["v2crc"])).Replace(cfg)
	hp := startHAProxy(t, bin, cfg)
	hp.waitChecked(t, "be_v1/m", "be_v2/m", "be_v2crc/m")

	// The checks alone: headers (LOCAL ones among them) keep coming while
	// no client connects, and none is refused.
	before := s.Stats().Proxy
	if before.Local == 0 {
		t.Errorf("v2 checks passed but no LOCAL header counted: %+v", before)
	}
	waitFor(t, "more health-check headers", func() bool { return s.Stats().Proxy.Headers >= before.Headers+6 })

	cases := []struct {
		name, version string
		uid, crc      bool
	}{
		{"send-proxy", "1", false, false},
		{"send-proxy-v2", "2", false, false},
		{"send-proxy-v2 crc32c,unique-id", "2", true, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := ports[[]string{"v1", "v2", "v2crc"}[i]]
			c := dialFrom(t, fmt.Sprintf("127.0.0.1:%d", port))
			defer c.Close()
			me := c.LocalAddr().String()
			r := bufio.NewReader(c)
			for range 2 { // twice on the connection: one header, then data
				if _, err := c.Write([]byte("hello\n")); err != nil {
					t.Fatal(err)
				}
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("reading the answer: %v (%q)\nhaproxy output:\n%s", err, line, hp.logs())
				}
				uid := ""
				if tc.uid {
					uid = "mill-" + me
				}
				want := fmt.Sprintf("remote=%s v=%s cmd=PROXY uid=%s crc=%t fam=AF_INET\n", me, tc.version, uid, tc.crc)
				if line != want {
					t.Errorf("mill says %q, want %q", line, want)
				}
			}
		})
	}

	st := s.Stats().Proxy
	f := st.Failed
	if f.Untrusted+f.Missing+f.Invalid+f.Timeout != 0 {
		t.Errorf("headers refused: %+v", st)
	}
	if f.PeerGone != 0 {
		// A check connection reset before mill read its header: HAProxy
		// closes checks with a reset. Not a refusal of a good header.
		t.Logf("check connections gone before their header was read: %d", f.PeerGone)
	}
	t.Logf("PROXY stats: %+v", st)
}

// TestProxyProtocolHAProxyTLS: HAProxy terminates TLS and sends
// send-proxy-v2 with proxy-v2-options ssl,authority,crc32c: the header
// mill reads carries the negotiated ALPN, the SNI as authority and the
// SSL TLV (TLS in use, its version), checked by a CRC.
func TestProxyProtocolHAProxyTLS(t *testing.T) {
	bin := needHAProxy(t)
	h := &funcHandler{traffic: func(c Conn) Action {
		c.Discard(-1)
		hdr, _ := c.Proxy()
		alpn, _ := hdr.ALPN()
		authority, _ := hdr.Authority()
		_, crc := hdr.CRC32C()
		ssl, _ := hdr.SSL()
		version, _ := ssl.Version()
		c.Write([]byte(fmt.Sprintf("remote=%s alpn=%s authority=%s ssl=%t version=%s crc=%t\n",
			c.RemoteAddr(), alpn, authority, ssl.UsedSSL(), version, crc)))
		return None
	}}
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{}))
	p := thePKI(t)
	key, err := x509.MarshalECPrivateKey(p.server.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "server.pem")
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key})...)
	if err := os.WriteFile(pemFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`global
  log stdout format raw local0 info
defaults
  mode tcp
  log global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe_tls
  bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
  default_backend be_tls
backend be_tls
  server m %s send-proxy-v2 proxy-v2-options ssl,authority,crc32c
`, port, pemFile, s.Addr())
	hp := startHAProxy(t, bin, cfg)
	raw := dialFrom(t, fmt.Sprintf("127.0.0.1:%d", port))
	defer raw.Close()
	me := raw.LocalAddr().String()
	c := tls.Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatalf("%v\nhaproxy output:\n%s", err, hp.logs())
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v\nhaproxy output:\n%s", err, hp.logs())
	}
	want := fmt.Sprintf("remote=%s alpn=http/1.1 authority=localhost ssl=true version=TLSv1.3 crc=true\n", me)
	if line != want {
		t.Errorf("mill says %q, want %q", line, want)
	}
}
