package proxyproto_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mill-io/mill/proxyproto"
)

// A connection's first bytes arrive in pieces; the loop appends them to a
// small buffer and asks Parse after each read.
func Example_incremental() {
	hdr, _ := proxyproto.AppendV2(nil, proxyproto.Header{
		Command: proxyproto.Proxy, Family: proxyproto.FamilyInet, Transport: proxyproto.Stream,
		Source:      netip.MustParseAddrPort("203.0.113.7:51000"),
		Destination: netip.MustParseAddrPort("198.51.100.1:443"),
		TLVs:        proxyproto.AppendTLV(nil, proxyproto.TypeCRC32C, make([]byte, 4)), // filled in
	})
	wire := append(hdr, "GET / HTTP/1.1\r\n"...)
	reads := [][]byte{wire[:3], wire[3:20], wire[20:]}

	var buf []byte
	for _, r := range reads {
		buf = append(buf, r...)
		h, n, err := proxyproto.Parse(buf)
		switch {
		case errors.Is(err, proxyproto.ErrNoHeader):
			fmt.Println("no header: refuse, or serve buf as data if the header is optional")
			return
		case err != nil:
			fmt.Println("close:", err)
			return
		case n == 0:
			fmt.Println("need more")
			continue
		}
		if src, dst, ok := h.Addrs(); ok {
			fmt.Println("client", src, "proxy", dst)
		}
		fmt.Printf("application data: %q\n", buf[n:])
		return
	}
	// Output:
	// need more
	// need more
	// client 203.0.113.7:51000 proxy 198.51.100.1:443
	// application data: "GET / HTTP/1.1\r\n"
}

func ExampleParse_v1() {
	h, n, err := proxyproto.Parse([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\nhello"))
	fmt.Println(h.Version, h.Family, h.Source, h.Destination, n, err)
	// Output: 1 AF_INET6 [2001:db8::1]:56324 [2001:db8::2]:443 46 <nil>
}

func ExampleHeader_SSL() {
	ssl := []byte{proxyproto.ClientSSL | proxyproto.ClientCertConn, 0, 0, 0, 0}
	ssl = proxyproto.AppendTLV(ssl, proxyproto.SubtypeSSLVersion, []byte("TLSv1.3"))
	ssl = proxyproto.AppendTLV(ssl, proxyproto.SubtypeSSLCN, []byte("alice"))
	tlvs := proxyproto.AppendTLV(nil, proxyproto.TypeALPN, []byte("h2"))
	tlvs = proxyproto.AppendTLV(tlvs, proxyproto.TypeSSL, ssl)
	raw, _ := proxyproto.AppendV2(nil, proxyproto.Header{Command: proxyproto.Proxy, TLVs: tlvs})

	h, _, _ := proxyproto.Parse(raw)
	alpn, _ := h.ALPN()
	s, _ := h.SSL()
	v, _ := s.Version()
	cn, _ := s.CN()
	fmt.Printf("%s %s %s verified=%v\n", alpn, v, cn, s.Verified())
	// Output: h2 TLSv1.3 alice verified=true
}
