package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	pp "github.com/pires/go-proxyproto"
)

// The reference is github.com/pires/go-proxyproto (test-only). Where both
// parsers accept an input they must agree on everything. Where they differ on
// acceptance, only these deliberate disagreements are allowed (each backed by
// the spec, doc/proxy-protocol.txt):
//
//   - CRC32C: a bad checksum is ErrBadChecksum here; the reference never
//     checks it (spec 2.2.5: the receiver MUST verify it when present and
//     supported).
//   - TLV framing: a TLV that runs past the header, a CRC32C that is not 4
//     bytes, a UNIQUE_ID over 128 bytes are ErrInvalidTLV here; the reference
//     keeps the raw bytes and only fails when TLVs() is called.
//   - v2 PROXY with AF_UNSPEC (byte 0x00) is accepted here with unknown
//     addresses (spec 2.2: "the receiver is free to accept the connection
//     anyway and use the real endpoint addresses"); the reference rejects it.
//   - a lone CR inside a v1 UNKNOWN line is refused here (spec 2.1: the
//     receiver "must not tolerate a single CR or LF character"); the
//     reference ignores anything after UNKNOWN.
//   - incomplete input: "need more" here; the reference reads from a
//     bufio.Reader and fails at EOF.
//
// Differences in how an accepted header is represented, not disagreements:
// v1 UNKNOWN is LOCAL in the reference and Proxy+FamilyUnspec here; a LOCAL
// v2 header whose block is too short for its family is normalised to UNSPEC
// by the reference and keeps its family byte here (both skip the block); an
// abstract Unix name (leading NUL) is "" in the reference and kept here; the
// reference's TLVs() gives NOOPs without their value.

// refLimit is the reference's default v2 cap (MaxV2HeaderSize, 4096 bytes
// of length field), as a total length for Parser.
const refLimit = V2FixedLen + 4096

// refParse runs the reference on a complete buffer, as its own
// ParseUDPDatagram does, and reports how many bytes it consumed.
func refParse(b []byte) (*pp.Header, int, error) {
	br := bufio.NewReaderSize(bytes.NewReader(b), len(b)+16)
	h, err := pp.Read(br)
	return h, len(b) - br.Buffered(), err
}

// agree checks our parser against the reference on b; it returns a
// description of a disagreement, or "".
func agree(b []byte) string {
	h, n, err := Parser{MaxV2Len: refLimit}.Parse(b)
	rh, rn, rerr := refParse(b)
	switch {
	case err == nil && n == 0: // need more
		if rerr == nil {
			return fmt.Sprintf("we need more, the reference accepted %d bytes", rn)
		}
		return ""
	case errors.Is(err, ErrNoHeader):
		if !errors.Is(rerr, pp.ErrNoProxyProtocol) {
			return fmt.Sprintf("we found no header, the reference said %v", rerr)
		}
		return ""
	case err != nil && rerr != nil:
		return ""
	case err != nil: // the reference accepted
		switch {
		case errors.Is(err, ErrBadChecksum), errors.Is(err, ErrInvalidTLV):
			return ""
		case errors.Is(err, errV1CRLF) && rh.Version == 1 && rh.TransportProtocol == pp.UNSPEC:
			return ""
		}
		return fmt.Sprintf("we refused (%v), the reference accepted %d bytes: %+v", err, rn, rh)
	case rerr != nil: // we accepted
		if h.Version == 2 && h.Command == Proxy && h.Family == FamilyUnspec {
			return ""
		}
		return fmt.Sprintf("we accepted %d bytes (%+v), the reference refused: %v", n, h, rerr)
	}
	// Both accepted.
	if n != rn {
		return fmt.Sprintf("consumed %d, reference %d", n, rn)
	}
	if h.Version != int(rh.Version) {
		return fmt.Sprintf("version %d, reference %d", h.Version, rh.Version)
	}
	famByte := byte(h.Family)<<4 | byte(h.Transport)
	short := h.Command == Local && !h.Source.IsValid() && h.SourceUnix == nil && h.Family != FamilyUnspec
	switch {
	case h.Version == 1 && h.Family == FamilyUnspec:
		if rh.Command != pp.LOCAL || rh.TransportProtocol != pp.UNSPEC {
			return fmt.Sprintf("v1 UNKNOWN: reference %v %v", rh.Command, rh.TransportProtocol)
		}
		return ""
	case short:
		if rh.TransportProtocol != pp.UNSPEC || !rh.Command.IsLocal() {
			return fmt.Sprintf("short LOCAL: reference %v", rh.TransportProtocol)
		}
		return ""
	}
	if byte(rh.TransportProtocol) != famByte {
		return fmt.Sprintf("family %#x, reference %#x", famByte, byte(rh.TransportProtocol))
	}
	wantCmd := pp.PROXY
	if h.Command == Local {
		wantCmd = pp.LOCAL
	}
	if h.Version == 2 && rh.Command != wantCmd {
		return fmt.Sprintf("command %v, reference %v", h.Command, rh.Command)
	}
	if s := sameAddr(h, h.Source, h.SourceUnix, rh.SourceAddr); s != "" {
		return "source: " + s
	}
	if s := sameAddr(h, h.Destination, h.DestinationUnix, rh.DestinationAddr); s != "" {
		return "destination: " + s
	}
	// TLVs (the reference keeps NOOPs without their value).
	rtlvs, rterr := rh.TLVs()
	if rterr != nil {
		return fmt.Sprintf("reference TLVs: %v", rterr)
	}
	i := 0
	var diff string
	h.EachTLV(func(typ byte, v []byte) bool {
		if i >= len(rtlvs) || byte(rtlvs[i].Type) != typ || (typ != TypeNoop && !bytes.Equal(rtlvs[i].Value, v)) {
			diff = fmt.Sprintf("TLV %d differs", i)
			return false
		}
		i++
		return true
	})
	if diff == "" && i != len(rtlvs) {
		diff = fmt.Sprintf("%d TLVs, reference %d", i, len(rtlvs))
	}
	return diff
}

func sameAddr(h Header, a netip.AddrPort, unix []byte, r net.Addr) string {
	switch h.Family {
	case FamilyInet, FamilyInet6:
		var ip net.IP
		var port int
		switch r := r.(type) {
		case *net.TCPAddr:
			ip, port = r.IP, r.Port
		case *net.UDPAddr:
			ip, port = r.IP, r.Port
		default:
			return fmt.Sprintf("reference address %T %v", r, r)
		}
		ra, ok := netip.AddrFromSlice(ip)
		if !ok || ra != a.Addr() || port != int(a.Port()) {
			return fmt.Sprintf("%v, reference %v", a, r)
		}
	case FamilyUnix:
		ua, ok := r.(*net.UnixAddr)
		if !ok {
			return fmt.Sprintf("reference address %T", r)
		}
		if len(unix) > 0 && unix[0] == 0 {
			if ua.Name != "" {
				return fmt.Sprintf("abstract %q, reference %q", unix, ua.Name)
			}
		} else if ua.Name != string(unix) {
			return fmt.Sprintf("%q, reference %q", unix, ua.Name)
		}
	}
	return ""
}

// tableInputs is every input of the table tests, valid and invalid.
func tableInputs() [][]byte {
	var ins [][]byte
	for _, c := range validCases() {
		ins = append(ins, c.in, append(append([]byte{}, c.in...), "GET / HTTP/1.0\r\n"...))
	}
	for _, c := range invalidCases() {
		ins = append(ins, c.in)
	}
	return ins
}

func TestAgreeWithGoProxyproto(t *testing.T) {
	for _, in := range tableInputs() {
		if d := agree(in); d != "" {
			t.Errorf("%q: %s", in, d)
		}
	}
}

// FuzzParse checks, for any input: no panic; a coherent result; a header
// that parses is found again from exactly its bytes, is "need more" for each
// of its prefixes, survives Format and re-parsing; and agreement with
// go-proxyproto (see above for the deliberate disagreements).
func FuzzParse(f *testing.F) {
	for _, in := range tableInputs() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		keep := append([]byte{}, b...)
		h, n, err := Parse(b)
		if !bytes.Equal(b, keep) {
			t.Fatal("input modified")
		}
		if n < 0 || n > len(b) || (err != nil && n != 0) {
			t.Fatalf("n %d err %v", n, err)
		}
		if errors.Is(err, ErrNoHeader) && (hasPrefixPart(b, v1Sig) || hasPrefixPart(b, v2Sig)) {
			t.Fatal("ErrNoHeader on a signature")
		}
		if err == nil && n > 0 {
			h2, n2, err2 := Parse(b[:n])
			if err2 != nil || n2 != n || !headersEqual(h, h2) {
				t.Fatalf("alone: %d %v", n2, err2)
			}
			if l, ok := HeaderLen(b); !ok || l != n {
				t.Fatalf("HeaderLen %d %v, n %d", l, ok, n)
			}
			step := 1
			if n > 512 {
				step = n / 128
			}
			for i := 0; i < n; i += step {
				if _, pn, perr := Parse(b[:i]); pn != 0 || perr != nil {
					t.Fatalf("prefix %d: %d %v", i, pn, perr)
				}
			}
			checkRoundTrip(t, h, b[:n])
			_ = h.Clone()
			if s, ok := h.SSL(); ok {
				s.Version()
				s.CN()
			}
			h.AWSVPCEndpointID()
			h.AzurePrivateLinkID()
			h.GCPPSCConnectionID()
			h.UniqueID()
		}
		if d := agree(b); d != "" {
			t.Fatalf("disagreement with go-proxyproto on %q: %s", b, d)
		}
	})
}

func checkRoundTrip(t *testing.T, h Header, raw []byte) {
	t.Helper()
	short := h.Command == Local && !h.Source.IsValid() && h.SourceUnix == nil && h.Family != FamilyUnspec
	if short {
		return
	}
	out, err := h.Format()
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	h2, n, err := Parse(out)
	if err != nil || n != len(out) {
		t.Fatalf("reparse: %d %v", n, err)
	}
	if h.Version == 1 {
		if h.Family != FamilyUnspec && !headersEqual(h, h2) {
			t.Fatalf("v1 round trip %+v != %+v", h2, h)
		}
		return
	}
	if h.Family != FamilyUnix && !bytes.Equal(out, raw) {
		t.Fatalf("v2 Format\n%x\nwant\n%x", out, raw)
	}
	if !headersEqual(h, h2) {
		t.Fatalf("v2 round trip %+v != %+v", h2, h)
	}
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzParse from the table inputs
// when PROXYPROTO_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PROXYPROTO_WRITE_SEEDS") != "1" {
		t.Skip("set PROXYPROTO_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, in := range tableInputs() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
		name := filepath.Join(dir, fmt.Sprintf("seed-%03d", i))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
