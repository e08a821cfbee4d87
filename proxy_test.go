//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/proxyproto"
)

// addrReporter answers each input with the connection's remote and
// local addresses, and hands out its Conns.
func addrReporter() *funcHandler {
	return &funcHandler{conns: make(chan Conn, 16), traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		c.Write([]byte(c.RemoteAddr().String() + " " + c.LocalAddr().String() + " " + string(b) + "\n"))
		return None
	}}
}

// readLine reads one line from c, with a deadline.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			t.Fatalf("reading a line (%q so far): %v", line, err)
		}
		if b[0] == '\n' {
			return string(line)
		}
		line = append(line, b[0])
	}
}

func v1Header(t testing.TB, src, dst string) []byte {
	h := proxyproto.Header{Version: 1, Command: proxyproto.Proxy, Family: proxyproto.FamilyInet,
		Source: netip.MustParseAddrPort(src), Destination: netip.MustParseAddrPort(dst)}
	if h.Source.Addr().Is6() {
		h.Family = proxyproto.FamilyInet6
	}
	b, err := proxyproto.AppendV1(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func v2Header(t testing.TB, src, dst string, tlvs []byte) []byte {
	h := proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Family: proxyproto.FamilyInet,
		Transport: proxyproto.Stream, Source: netip.MustParseAddrPort(src), Destination: netip.MustParseAddrPort(dst), TLVs: tlvs}
	if h.Source.Addr().Is6() {
		h.Family = proxyproto.FamilyInet6
	}
	b, err := proxyproto.AppendV2(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlv encodes one TLV.
func tlv(typ byte, v []byte) []byte {
	return append([]byte{typ, byte(len(v) >> 8), byte(len(v))}, v...)
}

// TestProxyProtocolHeaders: v1 and v2 headers (IPv4, IPv6, with TLVs and
// a checksum) give the connection the client's addresses; the data that
// came with the header is delivered at once; Conn.Proxy has the TLVs.
func TestProxyProtocolHeaders(t *testing.T) {
	h := addrReporter()
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{}))
	crc := tlv(proxyproto.TypeCRC32C, make([]byte, 4))
	cases := []struct {
		name   string
		header []byte
		want   string
	}{
		{"v1 TCP4", v1Header(t, "192.0.2.7:4242", "198.51.100.1:443"), "192.0.2.7:4242 198.51.100.1:443"},
		{"v1 TCP6", v1Header(t, "[2001:db8::7]:4242", "[2001:db8::1]:443"), "[2001:db8::7]:4242 [2001:db8::1]:443"},
		{"v2 IPv4 with TLVs", v2Header(t, "192.0.2.8:5000", "198.51.100.1:80",
			append(append(tlv(proxyproto.TypeALPN, []byte("h2")), tlv(proxyproto.TypeUniqueID, []byte("req-1"))...), crc...)),
			"192.0.2.8:5000 198.51.100.1:80"},
		{"v2 IPv6", v2Header(t, "[2001:db8::8]:5000", "[2001:db8::1]:80", nil), "[2001:db8::8]:5000 [2001:db8::1]:80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s)
			c.Write(append(append([]byte(nil), tc.header...), "hello"...))
			if got := readLine(t, c); got != tc.want+" hello" {
				t.Errorf("got %q, want %q", got, tc.want+" hello")
			}
			sc := recv(t, h.conns, "OnOpen")
			hdr, ok := sc.Proxy()
			if !ok || hdr.Version == 0 {
				t.Fatalf("Proxy() = %+v, %v", hdr, ok)
			}
			if alpn, ok := hdr.ALPN(); tc.name == "v2 IPv4 with TLVs" && (!ok || string(alpn) != "h2") {
				t.Errorf("ALPN TLV %q, %v", alpn, ok)
			}
		})
	}
	if st := s.Stats().Proxy; st.Headers != uint64(len(cases)) || st.Failed.Total() != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestProxyProtocolByteByByte: every header arriving one byte per read
// still gives the same result.
func TestProxyProtocolByteByByte(t *testing.T) {
	h := addrReporter()
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{}))
	for _, hdr := range [][]byte{
		v1Header(t, "192.0.2.7:4242", "198.51.100.1:443"),
		v2Header(t, "192.0.2.8:5000", "198.51.100.1:80", tlv(proxyproto.TypeCRC32C, make([]byte, 4))),
	} {
		c := dial(t, s)
		before := s.Stats().Total.BytesIn
		for i := range hdr {
			c.Write(hdr[i : i+1])
			bytesInAtLeast(t, s, before+uint64(i+1))
		}
		c.Write([]byte("x"))
		if got := readLine(t, c); got[:9] != "192.0.2.7" && got[:9] != "192.0.2.8" {
			t.Errorf("got %q", got)
		}
	}
}

// TestProxyProtocolRefusals: an untrusted peer, no header where one is
// required, an invalid header, a bad checksum, a header that stalls —
// each refused with its cause counted, no OnOpen; a good connection is
// served meanwhile.
func TestProxyProtocolRefusals(t *testing.T) {
	h := addrReporter()
	s := serve(t, h, "tcp://127.0.0.1:0", WithAddrs("tcp4://127.0.0.1:0"),
		WithProxyProtocol(ProxyProtocol{Timeout: 300 * time.Millisecond}, "tcp://127.0.0.1:0"),
		WithProxyProtocol(ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "tcp4://127.0.0.1:0"))
	trusted, untrusted := s.Addrs()[0].String(), s.Addrs()[1].String()
	bad := v2Header(t, "192.0.2.8:5000", "198.51.100.1:80", tlv(proxyproto.TypeCRC32C, make([]byte, 4)))
	bad[len(bad)-1] ^= 0xff // the checksum no longer matches
	cases := []struct {
		name  string
		addr  string
		send  []byte
		count func(ProxyFailures) uint64
	}{
		{"untrusted peer", untrusted, v1Header(t, "192.0.2.7:1", "192.0.2.1:2"), func(f ProxyFailures) uint64 { return f.Untrusted }},
		{"no header", trusted, []byte("GET / HTTP/1.1\r\n\r\n"), func(f ProxyFailures) uint64 { return f.Missing }},
		{"invalid v1", trusted, []byte("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"), func(f ProxyFailures) uint64 { return f.Invalid }},
		{"v1 past 107 bytes", trusted, []byte("PROXY TCP6 " + strings.Repeat("1", 120)), func(f ProxyFailures) uint64 { return f.Invalid }},
		{"bad checksum", trusted, bad, func(f ProxyFailures) uint64 { return f.Invalid }},
		{"stalled", trusted, []byte("PROXY TCP4 1.2"), func(f ProxyFailures) uint64 { return f.Timeout }},
		{"peer gone", trusted, nil, func(f ProxyFailures) uint64 { return f.PeerGone }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.count(s.Stats().Proxy.Failed)
			c, err := net.DialTimeout("tcp", tc.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if tc.send == nil {
				c.Close()
			} else {
				c.Write(tc.send)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, _ := io.ReadAll(c); len(n) != 0 {
					t.Errorf("read %q from a refused connection", n)
				}
				c.Close()
			}
			waitFor(t, "the refusal counted", func() bool { return tc.count(s.Stats().Proxy.Failed) == before+1 })
		})
	}
	select {
	case c := <-h.conns:
		t.Fatalf("OnOpen ran for a refused connection from %v", c.RemoteAddr())
	default:
	}
	c := dial(t, s)
	c.Write(append(v1Header(t, "192.0.2.9:9", "192.0.2.1:1"), "ok"...))
	if got := readLine(t, c); got != "192.0.2.9:9 192.0.2.1:1 ok" {
		t.Errorf("a good connection after the refusals: %q", got)
	}
	waitFor(t, "refusals counted as closes", func() bool { return s.Stats().Total.Closed.Proxy == 6 })
}

// TestProxyProtocolOptionalAndLocal: where the header is optional a
// trusted peer without one keeps its own address; a LOCAL header (a
// health check) is accepted with the connection's own addresses.
func TestProxyProtocolOptionalAndLocal(t *testing.T) {
	h := addrReporter()
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{Optional: true}))
	c := dial(t, s)
	c.Write([]byte("plain"))
	got := readLine(t, c)
	if want := c.LocalAddr().String() + " " + s.Addr().String() + " plain"; got != want {
		t.Errorf("without a header: %q, want %q", got, want)
	}
	local, err := proxyproto.AppendV2(nil, proxyproto.Header{Version: 2, Command: proxyproto.Local})
	if err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, s)
	c2.Write(append(local, "check"...))
	if got, want := readLine(t, c2), c2.LocalAddr().String()+" "+s.Addr().String()+" check"; got != want {
		t.Errorf("LOCAL: %q, want %q", got, want)
	}
	if st := s.Stats().Proxy; st.Absent != 1 || st.Local != 1 || st.Headers != 1 {
		t.Errorf("stats %+v: want one absent, one LOCAL", st)
	}
}

// TestProxyProtocolThenTLS: the header comes before the ClientHello, and
// what follows it feeds the handshake.
func TestProxyProtocolThenTLS(t *testing.T) {
	h := addrReporter()
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{}), WithTLS(tlsServerConfig(t)))
	raw, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(v2Header(t, "192.0.2.10:7", "198.51.100.1:443", nil))
	c := tls.Client(raw, tlsClientConfig(t))
	c.Write([]byte("secret"))
	if got := readLine(t, c); got != "192.0.2.10:7 198.51.100.1:443 secret" {
		t.Errorf("got %q", got)
	}
	if st := s.Stats(); st.Proxy.Headers != 1 || st.TLS.Handshakes != 1 {
		t.Errorf("stats %+v %+v", st.Proxy, st.TLS)
	}
}

// TestProxyProtocolOptions: misuse names the option.
func TestProxyProtocolOptions(t *testing.T) {
	for _, opts := range [][]Option{
		{WithProxyProtocol(ProxyProtocol{}, "tcp://127.0.0.1:1")},
		{WithProxyProtocol(ProxyProtocol{Timeout: -1})},
		{WithProxyProtocol(ProxyProtocol{}), WithProxyProtocol(ProxyProtocol{})},
		{WithProxyProtocol(ProxyProtocol{Trusted: []netip.Prefix{{}}})},
	} {
		s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", opts...)
		if err == nil {
			s.Shutdown(nil)
			t.Errorf("%d options: want an error", len(opts))
		} else if !errors.Is(err, err) || len(err.Error()) < 20 {
			t.Errorf("error %q", err)
		}
	}
}

// TestProxyProtocolUnixSocket: on a Unix-domain address (a balancer
// beside the server) the peer is trusted, the socket file's permissions
// being what says who may connect.
func TestProxyProtocolUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "p.sock")
	s := serve(t, addrReporter(), "unix://"+sock, WithProxyProtocol(ProxyProtocol{}))
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(append(v1Header(t, "192.0.2.7:4242", "127.0.0.1:8080"), "hello"...))
	if got := readLine(t, c); got != "192.0.2.7:4242 127.0.0.1:8080 hello" {
		t.Errorf("got %q", got)
	}
	if st := s.Stats().Proxy; st.Headers != 1 || st.Failed.Untrusted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestProxyProtocolOptionalServerFirst: where the header is optional, a
// client that waits for the server to speak first is opened when the
// timeout passes without a byte, not refused.
func TestProxyProtocolOptionalServerFirst(t *testing.T) {
	h := &funcHandler{open: func(c Conn) ([]byte, Action) { return []byte("220 hello\n"), None }}
	s := serve(t, h, "", WithProxyProtocol(ProxyProtocol{Optional: true, Timeout: 100 * time.Millisecond}))
	c := dial(t, s)
	if got := readLine(t, c); got != "220 hello" {
		t.Errorf("greeting %q", got)
	}
	if st := s.Stats().Proxy; st.Absent != 1 || st.Failed.Total() != 0 {
		t.Errorf("stats %+v", st)
	}
}
