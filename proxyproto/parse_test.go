package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
)

var sig2 = []byte(v2Sig)

// v2 builds a raw v2 header: signature, ver/cmd byte, fam byte, the body's
// length, the body.
func v2(verCmd, fam byte, body ...[]byte) []byte {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	out := append([]byte{}, sig2...)
	out = append(out, verCmd, fam)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
	return append(out, b...)
}

// v2len is v2 with an explicit length field.
func v2len(verCmd, fam byte, length uint16, body []byte) []byte {
	out := append([]byte{}, sig2...)
	out = append(out, verCmd, fam)
	out = binary.BigEndian.AppendUint16(out, length)
	return append(out, body...)
}

func tlv(typ byte, v string) []byte { return AppendTLV(nil, typ, []byte(v)) }

var (
	ipv4Block = []byte{192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb} // 56324 -> 443
	ipv6Block = func() []byte {
		s := netip.MustParseAddr("2001:db8::1").As16()
		d := netip.MustParseAddr("2001:db8::2").As16()
		b := append(s[:], d[:]...)
		return append(b, 0x30, 0x39, 0x00, 0x50) // 12345 -> 80
	}()
	unixBlock = func() []byte {
		b := make([]byte, 216)
		copy(b, "/run/client.sock")
		copy(b[108:], "/run/server.sock")
		return b
	}()
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// withCRC appends a CRC32C TLV to a v2 header (fixing its length) and
// fills it in; bad flips the checksum.
func withCRC(h []byte, bad bool) []byte {
	h = append([]byte{}, h...)
	h = append(h, TypeCRC32C, 0, 4, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(h[14:], uint16(len(h)-16))
	c := crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli))
	if bad {
		c ^= 1
	}
	binary.BigEndian.PutUint32(h[len(h)-4:], c)
	return h
}

type validCase struct {
	name string
	in   []byte
	want Header
}

func validCases() []validCase {
	sslVal := append([]byte{ClientSSL | ClientCertConn, 0, 0, 0, 0},
		append(append(tlv(SubtypeSSLVersion, "TLSv1.3"), tlv(SubtypeSSLCN, "client.example")...),
			append(tlv(SubtypeSSLCipher, "TLS_AES_128_GCM_SHA256"), append(tlv(SubtypeSSLSigAlg, "SHA256"), tlv(SubtypeSSLKeyAlg, "RSA2048")...)...)...)...)
	allTLVs := bytes.Join([][]byte{
		tlv(TypeALPN, "h2"),
		tlv(TypeAuthority, "example.com"),
		tlv(TypeNoop, "\x00\x00"),
		tlv(TypeUniqueID, strings.Repeat("u", 128)),
		AppendTLV(nil, TypeSSL, sslVal),
		tlv(TypeNetNS, "blue"),
		tlv(TypeAWS, "\x01vpce-08d2bf15fac5001c9"),
		tlv(TypeAzure, "\x01\x78\x56\x34\x12"),
		tlv(TypeGCP, "\x00\x00\x00\x00\xc0\xa8\x64\x02"),
		tlv(0xF0, "experimental"),
	}, nil)
	tcp4 := Header{Version: 2, Command: Proxy, Family: FamilyInet, Transport: Stream,
		Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")}
	withT := func(h Header, t []byte) Header { h.TLVs = t; return h }
	crcHdr := withCRC(v2(0x21, 0x11, ipv4Block, tlv(TypeALPN, "h2")), false)
	localCRC := withCRC(v2(0x20, 0x00, tlv(TypeUniqueID, "check-1")), false)
	return []validCase{
		{"v1 tcp4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
			Header{Version: 1, Command: Proxy, Family: FamilyInet, Transport: Stream, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")}},
		{"v1 tcp4 port 0 and 65535", []byte("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
			Header{Version: 1, Command: Proxy, Family: FamilyInet, Transport: Stream, Source: ap("0.0.0.0:0"), Destination: ap("255.255.255.255:65535")}},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 ::1 12345 80\r\n"),
			Header{Version: 1, Command: Proxy, Family: FamilyInet6, Transport: Stream, Source: ap("[2001:db8::1]:12345"), Destination: ap("[::1]:80")}},
		{"v1 tcp6 full and mapped", []byte("PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::ffff:10.0.0.1 1 2\r\n"),
			Header{Version: 1, Command: Proxy, Family: FamilyInet6, Transport: Stream, Source: ap("[2001:db8::1]:1"), Destination: ap("[::ffff:10.0.0.1]:2")}},
		{"v1 tcp6 worst case", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			Header{Version: 1, Command: Proxy, Family: FamilyInet6, Transport: Stream,
				Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Command: Proxy}},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), Header{Version: 1, Command: Proxy}},
		{"v1 unknown 107 bytes", []byte("PROXY UNKNOWN " + strings.Repeat("x", 107-16) + "\r\n"), Header{Version: 1, Command: Proxy}},
		{"v2 proxy tcp4", v2(0x21, 0x11, ipv4Block), tcp4},
		{"v2 proxy udp4", v2(0x21, 0x12, ipv4Block),
			Header{Version: 2, Command: Proxy, Family: FamilyInet, Transport: Dgram, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")}},
		{"v2 proxy tcp6", v2(0x21, 0x21, ipv6Block),
			Header{Version: 2, Command: Proxy, Family: FamilyInet6, Transport: Stream, Source: ap("[2001:db8::1]:12345"), Destination: ap("[2001:db8::2]:80")}},
		{"v2 proxy udp6", v2(0x21, 0x22, ipv6Block),
			Header{Version: 2, Command: Proxy, Family: FamilyInet6, Transport: Dgram, Source: ap("[2001:db8::1]:12345"), Destination: ap("[2001:db8::2]:80")}},
		{"v2 proxy unix stream", v2(0x21, 0x31, unixBlock),
			Header{Version: 2, Command: Proxy, Family: FamilyUnix, Transport: Stream, SourceUnix: []byte("/run/client.sock"), DestinationUnix: []byte("/run/server.sock")}},
		{"v2 proxy unix dgram", v2(0x21, 0x32, unixBlock),
			Header{Version: 2, Command: Proxy, Family: FamilyUnix, Transport: Dgram, SourceUnix: []byte("/run/client.sock"), DestinationUnix: []byte("/run/server.sock")}},
		{"v2 proxy unspec", v2(0x21, 0x00), Header{Version: 2, Command: Proxy}},
		{"v2 local unspec", v2(0x20, 0x00), Header{Version: 2, Command: Local}},
		{"v2 local unspec with tlvs", v2(0x20, 0x00, tlv(TypeUniqueID, "abc")), Header{Version: 2, Command: Local, TLVs: tlv(TypeUniqueID, "abc")}},
		{"v2 local tcp4 with addresses", v2(0x20, 0x11, ipv4Block),
			Header{Version: 2, Command: Local, Family: FamilyInet, Transport: Stream, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")}},
		{"v2 local tcp4 short block skipped", v2(0x20, 0x11, []byte{1, 2, 3}), Header{Version: 2, Command: Local, Family: FamilyInet, Transport: Stream}},
		{"v2 local tcp6 length 0", v2(0x20, 0x21), Header{Version: 2, Command: Local, Family: FamilyInet6, Transport: Stream}},
		{"v2 tcp4 with tlvs", v2(0x21, 0x11, ipv4Block, allTLVs), withT(tcp4, allTLVs)},
		{"v2 tcp4 with empty tlv", v2(0x21, 0x11, ipv4Block, tlv(TypeNoop, "")), withT(tcp4, tlv(TypeNoop, ""))},
		{"v2 tcp4 crc", crcHdr, withT(tcp4, crcHdr[28:])},
		{"v2 local health check with crc", localCRC, Header{Version: 2, Command: Local, TLVs: localCRC[16:]}},
		{"v2 abstract unix", v2(0x21, 0x31, func() []byte {
			b := make([]byte, 216)
			copy(b, "\x00abs\x00x")
			return b
		}()), Header{Version: 2, Command: Proxy, Family: FamilyUnix, Transport: Stream, SourceUnix: []byte("\x00abs\x00x"), DestinationUnix: []byte{}}},
	}
}

func headersEqual(a, b Header) bool {
	return a.Version == b.Version && a.Command == b.Command && a.Family == b.Family && a.Transport == b.Transport &&
		a.Source == b.Source && a.Destination == b.Destination &&
		bytes.Equal(a.SourceUnix, b.SourceUnix) && bytes.Equal(a.DestinationUnix, b.DestinationUnix) &&
		bytes.Equal(a.TLVs, b.TLVs)
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := Parse(c.in)
			if err != nil || n != len(c.in) {
				t.Fatalf("Parse = n %d, err %v; want n %d", n, err, len(c.in))
			}
			if !headersEqual(h, c.want) {
				t.Fatalf("Parse =\n%+v\nwant\n%+v", h, c.want)
			}
			if l, ok := HeaderLen(c.in); !ok || l != len(c.in) {
				t.Errorf("HeaderLen = %d, %v", l, ok)
			}
			// Data after the header is left alone and n stays exact.
			for _, tail := range []string{"G", "GET / HTTP/1.1\r\n\r\n", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n", v2Sig} {
				in := append(append([]byte{}, c.in...), tail...)
				keep := append([]byte{}, in...)
				h2, n2, err := Parse(in)
				if err != nil || n2 != len(c.in) || !headersEqual(h2, c.want) {
					t.Fatalf("with tail %q: n %d err %v", tail, n2, err)
				}
				if !bytes.Equal(in, keep) {
					t.Fatal("Parse modified its input")
				}
			}
			// Fed one byte at a time: need more until complete.
			for i := 0; i < len(c.in); i++ {
				if _, n, err := Parse(c.in[:i]); n != 0 || err != nil {
					t.Fatalf("prefix of %d bytes: n %d err %v; want need more", i, n, err)
				}
			}
			// Clone no longer aliases the input.
			in := append([]byte{}, c.in...)
			h, _, _ = Parse(in)
			cl := h.Clone()
			clear(in)
			if !headersEqual(cl, c.want) {
				t.Fatalf("Clone aliases the buffer: %+v", cl)
			}
		})
	}
}

type invalidCase struct {
	name string
	in   []byte
	want error
}

func invalidCases() []invalidCase {
	v1 := func(s string) []byte { return []byte(s) }
	long := v2len(0x21, 0x11, 5000, nil)
	return []invalidCase{
		{"http", v1("GET / HTTP/1.1\r\n"), ErrNoHeader},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, ErrNoHeader},
		{"almost v1", v1("PROXZ TCP4"), ErrNoHeader},
		{"almost v2", append(append([]byte{}, sig2[:11]...), 'X'), ErrNoHeader},
		{"lowercase", v1("proxy TCP4 1.2.3.4 1.2.3.4 1 1\r\n"), ErrNoHeader},
		{"v1 no space", v1("PROXYTCP4 1.2.3.4"), ErrInvalidHeader},
		{"v1 double space", v1("PROXY TCP4  1.2.3.4 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 leading space", v1("PROXY  TCP4 1.2.3.4 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 trailing space", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 1 \r\n"), ErrInvalidHeader},
		{"v1 extra field", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 1 1\r\n"), ErrInvalidHeader},
		{"v1 missing field", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), ErrInvalidHeader},
		{"v1 only proto", v1("PROXY TCP4\r\n"), ErrInvalidHeader},
		{"v1 empty", v1("PROXY \r\n"), ErrInvalidHeader},
		{"v1 bad proto", v1("PROXY UDP4 1.2.3.4 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 unknownx", v1("PROXY UNKNOWNX\r\n"), ErrInvalidHeader},
		{"v1 LF only", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 1\n"), ErrInvalidHeader},
		{"v1 lone CR", v1("PROXY UNKNOWN a\rb\r\n"), ErrInvalidHeader},
		{"v1 lone CR early", v1("PROXY UNKNOWN a\rb"), ErrInvalidHeader},
		{"v1 port leading zero", v1("PROXY TCP4 1.2.3.4 1.2.3.4 01 1\r\n"), ErrInvalidHeader},
		{"v1 port 00", v1("PROXY TCP4 1.2.3.4 1.2.3.4 00 1\r\n"), ErrInvalidHeader},
		{"v1 port too big", v1("PROXY TCP4 1.2.3.4 1.2.3.4 65536 1\r\n"), ErrInvalidHeader},
		{"v1 port sign", v1("PROXY TCP4 1.2.3.4 1.2.3.4 +1 1\r\n"), ErrInvalidHeader},
		{"v1 port hex", v1("PROXY TCP4 1.2.3.4 1.2.3.4 0x1 1\r\n"), ErrInvalidHeader},
		{"v1 octet leading zero", v1("PROXY TCP4 01.2.3.4 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 octet too big", v1("PROXY TCP4 1.2.3.256 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 three octets", v1("PROXY TCP4 1.2.3 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 ipv6 in tcp4", v1("PROXY TCP4 ::1 1.2.3.4 1 1\r\n"), ErrInvalidHeader},
		{"v1 ipv4 in tcp6", v1("PROXY TCP6 1.2.3.4 ::1 1 1\r\n"), ErrInvalidHeader},
		{"v1 zone", v1("PROXY TCP6 fe80::1%eth0 ::1 1 1\r\n"), ErrInvalidHeader},
		{"v1 two ellipses", v1("PROXY TCP6 1::2::3 ::1 1 1\r\n"), ErrInvalidHeader},
		{"v1 five hex digits", v1("PROXY TCP6 12345::1 ::1 1 1\r\n"), ErrInvalidHeader},
		{"v1 108 bytes", v1("PROXY UNKNOWN " + strings.Repeat("x", 108-16) + "\r\n"), ErrHeaderTooLong},
		{"v1 no CRLF in 107", v1("PROXY UNKNOWN " + strings.Repeat("x", 200)), ErrHeaderTooLong},
		{"v2 version 1", v2(0x11, 0x11, ipv4Block), ErrUnsupported},
		{"v2 version 3", v2(0x31, 0x11, ipv4Block), ErrUnsupported},
		{"v2 command 2", v2(0x22, 0x11, ipv4Block), ErrUnsupported},
		{"v2 command f", v2(0x2f, 0x11, ipv4Block), ErrUnsupported},
		{"v2 family 0x13", v2(0x21, 0x13, ipv4Block), ErrUnsupported},
		{"v2 family 0x41", v2(0x21, 0x41, ipv4Block), ErrUnsupported},
		{"v2 family 0x01", v2(0x21, 0x01, ipv4Block), ErrUnsupported},
		{"v2 family 0x10", v2(0x21, 0x10, ipv4Block), ErrUnsupported},
		{"v2 local family 0x13", v2(0x20, 0x13), ErrUnsupported},
		{"v2 short tcp4", v2(0x21, 0x11, ipv4Block[:11]), ErrInvalidHeader},
		{"v2 short tcp6", v2(0x21, 0x21, ipv4Block), ErrInvalidHeader},
		{"v2 short unix", v2(0x21, 0x31, ipv6Block), ErrInvalidHeader},
		{"v2 too long", long, ErrHeaderTooLong},
		{"v2 max", v2len(0x21, 0x11, 0xffff, nil), ErrHeaderTooLong},
		{"v2 tlv truncated header", v2(0x21, 0x11, ipv4Block, []byte{1, 0}), ErrInvalidTLV},
		{"v2 tlv truncated value", v2(0x21, 0x11, ipv4Block, []byte{1, 0, 3, 'h', '2'}), ErrInvalidTLV},
		{"v2 tlv truncated local unspec", v2(0x20, 0x00, []byte{1, 0, 3}), ErrInvalidTLV},
		{"v2 crc short", v2(0x21, 0x11, ipv4Block, tlv(TypeCRC32C, "abc")), ErrInvalidTLV},
		{"v2 unique id 129", v2(0x21, 0x11, ipv4Block, tlv(TypeUniqueID, strings.Repeat("u", 129))), ErrInvalidTLV},
		{"v2 bad crc", withCRC(v2(0x21, 0x11, ipv4Block, tlv(TypeALPN, "h2")), true), ErrBadChecksum},
		{"v2 bad crc local", withCRC(v2(0x20, 0x00), true), ErrBadChecksum},
	}
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidCases() {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := Parse(c.in)
			if !errors.Is(err, c.want) || n != 0 {
				t.Fatalf("Parse = n %d, err %v; want %v", n, err, c.want)
			}
			if !headersEqual(h, Header{}) {
				t.Fatalf("error with a non-zero header %+v", h)
			}
		})
	}
	if !errors.Is(ErrInvalidTLV, ErrInvalidHeader) {
		t.Fatal("ErrInvalidTLV must match ErrInvalidHeader")
	}
}

func TestParseEarly(t *testing.T) {
	// Need more: empty input, signature prefixes, a v2 fixed part announcing
	// more than is there.
	for _, in := range [][]byte{nil, []byte("P"), []byte("PROXY"), []byte("PROXY "), sig2[:1], sig2[:12], sig2,
		v2(0x21, 0x11, ipv4Block)[:20], []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 1\r")} {
		if _, n, err := Parse(in); n != 0 || err != nil {
			t.Errorf("Parse(%q) = %d, %v; want need more", in, n, err)
		}
	}
	// Refusals as soon as the bytes allow: a too-long v2 after 16 bytes.
	if _, _, err := Parse(v2len(0x21, 0x11, 5000, nil)); !errors.Is(err, ErrHeaderTooLong) {
		t.Errorf("err %v", err)
	}
	// A bad version, command or family fails at its byte.
	for _, in := range [][]byte{append(append([]byte{}, sig2...), 0x11), append(append([]byte{}, sig2...), 0x23),
		append(append([]byte{}, sig2...), 0x21, 0x14)} {
		if _, _, err := Parse(in); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Parse(%x) = %v, want ErrUnsupported", in, err)
		}
	}
	// HeaderLen after the fixed part.
	if l, ok := HeaderLen(v2len(0x21, 0x11, 300, nil)); !ok || l != 316 {
		t.Errorf("HeaderLen = %d %v", l, ok)
	}
	if _, ok := HeaderLen([]byte("PROXY TCP4 1.2.3.4")); ok {
		t.Error("HeaderLen known too early")
	}
}

func TestParserLimit(t *testing.T) {
	in := v2(0x21, 0x11, ipv4Block, tlv(0xE5, strings.Repeat("x", 5000)))
	if _, _, err := Parse(in); !errors.Is(err, ErrHeaderTooLong) {
		t.Fatalf("default limit: %v", err)
	}
	p := Parser{MaxV2Len: 8192}
	if _, n, err := p.Parse(in); err != nil || n != len(in) {
		t.Fatalf("raised limit: %d %v", n, err)
	}
	p = Parser{MaxV2Len: 28} // exactly the header
	if _, n, err := p.Parse(v2(0x21, 0x11, ipv4Block)); err != nil || n != 28 {
		t.Fatalf("exact limit: %d %v", n, err)
	}
	p = Parser{MaxV2Len: 1 << 30}
	big := v2(0x21, 0x11, ipv4Block, tlv(0xE5, strings.Repeat("x", 65535-12-3)))
	if _, n, err := p.Parse(big); err != nil || n != MaxV2Len {
		t.Fatalf("protocol max: %d %v", n, err)
	}
}

func TestParseIPv6AgainstNetip(t *testing.T) {
	for _, s := range []string{"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1::8", "1:2:3:4:5:6::8", "1:2:3:4:5:6:7::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4",
		"1:2:3:4:5:6:7:1.2.3.4", "1::2::3", ":1", "1:", ":::", "1:::2", "12345::", "g::", "1.2.3.4", "::01.2.3.4",
		"1:2:3:4:5:6:7:8:9", "::ffff:1.2.3", "ABCD:ef01::", "0000:0000::", "::1%eth0", "", ":", "1:2:3:4:5:6:7",
		"::1.2.3.4:5", "1::2:", "[::1]"} {
		got, gok := parseIPv6([]byte(s))
		want, err := netip.ParseAddr(s)
		wok := err == nil && want.Is6() && want.Zone() == ""
		if gok != wok || (gok && got != want) {
			t.Errorf("parseIPv6(%q) = %v %v; netip %v %v", s, got, gok, want, err)
		}
	}
}

func TestTLVHelpers(t *testing.T) {
	var c validCase
	for _, v := range validCases() {
		if v.name == "v2 tcp4 with tlvs" {
			c = v
		}
	}
	h, _, err := Parse(c.in)
	if err != nil {
		t.Fatal(err)
	}
	str := func(b []byte, ok bool) string {
		if !ok {
			return "<none>"
		}
		return string(b)
	}
	if got := str(h.ALPN()); got != "h2" {
		t.Errorf("ALPN %q", got)
	}
	if got := str(h.Authority()); got != "example.com" {
		t.Errorf("Authority %q", got)
	}
	if got := str(h.UniqueID()); got != strings.Repeat("u", 128) {
		t.Errorf("UniqueID %q", got)
	}
	if got := str(h.NetNS()); got != "blue" {
		t.Errorf("NetNS %q", got)
	}
	if got := str(h.AWSVPCEndpointID()); got != "vpce-08d2bf15fac5001c9" {
		t.Errorf("AWS %q", got)
	}
	if id, ok := h.AzurePrivateLinkID(); !ok || id != 0x12345678 {
		t.Errorf("Azure %#x %v", id, ok)
	}
	if id, ok := h.GCPPSCConnectionID(); !ok || id != 0xc0a86402 {
		t.Errorf("GCP %#x %v", id, ok)
	}
	if _, ok := h.CRC32C(); ok {
		t.Error("CRC32C present")
	}
	s, ok := h.SSL()
	if !ok || !s.UsedSSL() || !s.Verified() {
		t.Fatalf("SSL %+v %v", s, ok)
	}
	for _, c := range []struct {
		got  string
		want string
	}{
		{str(s.Version()), "TLSv1.3"}, {str(s.CN()), "client.example"}, {str(s.Cipher()), "TLS_AES_128_GCM_SHA256"},
		{str(s.SigAlg()), "SHA256"}, {str(s.KeyAlg()), "RSA2048"},
	} {
		if c.got != c.want {
			t.Errorf("SSL sub-TLV %q, want %q", c.got, c.want)
		}
	}
	var types []byte
	h.EachTLV(func(typ byte, _ []byte) bool { types = append(types, typ); return true })
	if want := []byte{1, 2, 4, 5, 0x20, 0x30, 0xEA, 0xEE, 0xE0, 0xF0}; !bytes.Equal(types, want) {
		t.Errorf("EachTLV types %x, want %x", types, want)
	}

	// Malformed SSL TLVs and cloud TLVs of the wrong shape are "absent".
	bad := v2(0x21, 0x11, ipv4Block, tlv(TypeSSL, "\x01\x00\x00"), tlv(TypeAzure, "\x01\x00"), tlv(TypeGCP, "1234567"),
		tlv(TypeAWS, "\x02vpce"))
	h, _, err = Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.SSL(); ok {
		t.Error("short SSL accepted")
	}
	if _, ok := h.AzurePrivateLinkID(); ok {
		t.Error("short Azure accepted")
	}
	if _, ok := h.GCPPSCConnectionID(); ok {
		t.Error("short GCP accepted")
	}
	if _, ok := h.AWSVPCEndpointID(); ok {
		t.Error("AWS subtype 2 accepted")
	}
	h, _, _ = Parse(v2(0x21, 0x11, ipv4Block, tlv(TypeSSL, "\x05\x00\x00\x00\x01\x22\x00\x09cn")))
	if _, ok := h.SSL(); ok {
		t.Error("SSL with a truncated sub-TLV accepted")
	}
	h, _, _ = Parse(v2(0x21, 0x11, ipv4Block, tlv(TypeSSL, "\x05\x00\x00\x00\x01")))
	if s, ok := h.SSL(); !ok || s.Verified() || !s.UsedSSL() {
		t.Errorf("SSL unverified cert: %+v %v", s, ok)
	}
}

func TestAddrs(t *testing.T) {
	for _, c := range validCases() {
		h, _, _ := Parse(c.in)
		_, _, ok := h.Addrs()
		want := h.Command == Proxy && (h.Family == FamilyInet || h.Family == FamilyInet6)
		if ok != want {
			t.Errorf("%s: Addrs ok %v", c.name, ok)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, c := range validCases() {
		h, _, _ := Parse(c.in)
		out, err := h.Format()
		if err != nil {
			if h.Version == 1 {
				t.Errorf("%s: Format: %v", c.name, err)
			}
			continue
		}
		h2, n, err := Parse(out)
		if err != nil || n != len(out) {
			t.Errorf("%s: reparse %d %v", c.name, n, err)
			continue
		}
		if h.Version == 2 && len(c.in) == len(out) && !bytes.Equal(out, c.in) && h.Family != FamilyUnix {
			t.Errorf("%s: Format\n%x\nwant\n%x", c.name, out, c.in)
		}
		if _, _, ok := h.Addrs(); ok && !headersEqual(h, h2) {
			t.Errorf("%s: round trip %+v != %+v", c.name, h2, h)
		}
	}
	// AppendV2 fills in a CRC32C.
	h := Header{Version: 2, Command: Proxy, Family: FamilyInet6, Transport: Stream,
		Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2"),
		TLVs: append(tlv(TypeUniqueID, "id"), TypeCRC32C, 0, 4, 9, 9, 9, 9)}
	out, err := AppendV2([]byte("prefix"), h)
	if err != nil || !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatal(err)
	}
	got, n, err := Parse(out[6:])
	if err != nil || n != len(out)-6 {
		t.Fatalf("CRC header: %d %v", n, err)
	}
	if _, ok := got.CRC32C(); !ok {
		t.Fatal("no CRC")
	}
	v1, _ := AppendV1(nil, Header{Command: Local})
	if string(v1) != "PROXY UNKNOWN\r\n" {
		t.Errorf("AppendV1 local: %q", v1)
	}
	if _, err := AppendV1(nil, Header{Command: Proxy, Family: FamilyInet, Source: ap("[::1]:1"), Destination: ap("1.2.3.4:1")}); err == nil {
		t.Error("AppendV1 accepted an IPv6 address for TCP4")
	}
}

func TestNoAllocs(t *testing.T) {
	for _, c := range validCases() {
		in := c.in
		allocs := testing.AllocsPerRun(100, func() {
			h, _, _ := Parse(in)
			h.ALPN()
			h.SSL()
			h.AWSVPCEndpointID()
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Parse", c.name, allocs)
		}
	}
	bad := []byte("PROXY TCP4 1.2.3.4 1.2.3.4 01 1\r\n")
	if a := testing.AllocsPerRun(100, func() { Parse(bad) }); a != 0 {
		t.Errorf("error path: %v allocs", a)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"v1-tcp4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")},
		{"v1-tcp6", []byte("PROXY TCP6 2001:db8:85a3::8a2e:370:7334 2001:db8::2 56324 443\r\n")},
		{"v2-tcp4", v2(0x21, 0x11, ipv4Block)},
		{"v2-tcp6", v2(0x21, 0x21, ipv6Block)},
		{"v2-tcp4-tlvs-crc", withCRC(v2(0x21, 0x11, ipv4Block, tlv(TypeALPN, "h2"), tlv(TypeAuthority, "example.com"),
			tlv(TypeUniqueID, strings.Repeat("u", 64))), false)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				if _, _, err := Parse(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzAddr checks the hand-written address parsers against net/netip.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "01.2.3.4", "1::", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		got4, ok4 := parseIPv4([]byte(s))
		if w := err == nil && want.Is4(); ok4 != w || (ok4 && got4 != want) {
			t.Fatalf("parseIPv4(%q) = %v %v; netip %v %v", s, got4, ok4, want, err)
		}
		got6, ok6 := parseIPv6([]byte(s))
		if w := err == nil && want.Is6() && want.Zone() == ""; ok6 != w || (ok6 && got6 != want) {
			t.Fatalf("parseIPv6(%q) = %v %v; netip %v %v", s, got6, ok6, want, err)
		}
	})
}
