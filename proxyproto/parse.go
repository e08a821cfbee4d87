package proxyproto

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"
)

const (
	// MaxV1Len is the longest a v1 line can be, CRLF included: the spec's
	// worst case "PROXY UNKNOWN ffff:…:ffff ffff:…:ffff 65535 65535\r\n".
	MaxV1Len = 107
	// V2FixedLen is the length of a v2 header's fixed part: the 12-byte
	// signature, version/command, family/transport and the 2-byte length.
	V2FixedLen = 16
	// MaxV2Len is the longest a v2 header can be: the fixed part plus the
	// largest length its 16-bit field can declare.
	MaxV2Len = V2FixedLen + 65535
	// DefaultMaxV2Len is the cap [Parse] puts on a v2 header's total
	// length: enough for addresses and the usual TLVs (ALPN, authority,
	// unique id, CRC, SSL without a client certificate).
	DefaultMaxV2Len = 4096
)

// v1Sig is the v1 signature; v2Sig the v2 one (it holds a NUL byte).
const (
	v1Sig = "PROXY"
	v2Sig = "\r\n\r\n\x00\r\nQUIT\n"
)

// Address block lengths of the v2 families.
const (
	v2AddrLenInet  = 12
	v2AddrLenInet6 = 36
	v2AddrLenUnix  = 216
	unixPathLen    = 108
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Parser parses PROXY protocol headers with configurable limits. Its zero
// value is ready to use and behaves like [Parse]. A Parser holds no state
// between calls: one value can serve every connection of a listener.
type Parser struct {
	// MaxV2Len caps a v2 header's total length in bytes, the 16-byte fixed
	// part included; a header declaring more is refused with
	// ErrHeaderTooLong as soon as its fixed part is read. Zero means
	// DefaultMaxV2Len; values above MaxV2Len (16+65535) mean MaxV2Len.
	MaxV2Len int
}

// Parse parses a PROXY protocol header with the default limits; see
// [Parser.Parse].
func Parse(b []byte) (h Header, n int, err error) {
	return Parser{}.Parse(b)
}

// Parse parses the PROXY protocol header at the start of b, which holds all
// the bytes received on the connection so far. It returns:
//
//   - n == 0, err == nil: b is a valid beginning of a header but not a whole
//     one; call again with more bytes.
//   - n > 0, err == nil: h is the header, which took b[:n]; b[n:] is data
//     that follows it and is not looked at.
//   - err == ErrNoHeader: b does not start with a signature.
//   - another error: the header is invalid (see the package's errors).
//
// Parse does not allocate, does not modify b and never panics. The returned
// Header aliases b (see [Header.Clone]).
func (p Parser) Parse(b []byte) (h Header, n int, err error) {
	if len(b) == 0 {
		return h, 0, nil
	}
	switch b[0] {
	case v1Sig[0]:
		if !hasPrefixPart(b, v1Sig) {
			return h, 0, ErrNoHeader
		}
		return parseV1(b)
	case v2Sig[0]:
		if !hasPrefixPart(b, v2Sig) {
			return h, 0, ErrNoHeader
		}
		return p.parseV2(b)
	}
	return h, 0, ErrNoHeader
}

// HeaderLen reports the total length of the header at the start of b once
// the bytes so far tell it: for v2 as soon as the 16-byte fixed part is
// there, for v1 when the line's LF is. It returns ok == false when the
// length is not known yet or b does not start a valid header; a caller that
// waits for n bytes before calling Parse again saves rescanning. It applies
// no limit: Parse does.
func HeaderLen(b []byte) (n int, ok bool) {
	if hasPrefixPart(b, v2Sig) && len(b) >= V2FixedLen {
		return V2FixedLen + int(binary.BigEndian.Uint16(b[14:16])), true
	}
	if len(b) > len(v1Sig) && hasPrefixPart(b, v1Sig) {
		end := min(len(b), MaxV1Len)
		for i := range end {
			if b[i] == '\n' {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// hasPrefixPart reports whether b and sig agree on their common length.
func hasPrefixPart(b []byte, sig string) bool {
	m := min(len(b), len(sig))
	return string(b[:m]) == sig[:m]
}

// parseV1 parses a v1 line; b starts with (a prefix of) "PROXY".
func parseV1(b []byte) (h Header, n int, err error) {
	// A byte that can already be judged is judged, so garbage after the
	// signature fails at once rather than after 107 bytes.
	if len(b) > 5 && b[5] != ' ' {
		return h, 0, errV1Syntax
	}
	end := min(len(b), MaxV1Len)
	lf := -1
	for i := 0; i < end; i++ {
		c := b[i]
		if c == '\n' {
			lf = i
			break
		}
		if c == '\r' && i+1 < len(b) && b[i+1] != '\n' {
			return h, 0, errV1CRLF
		}
	}
	if lf < 0 {
		if len(b) >= MaxV1Len {
			return h, 0, errV1TooLong
		}
		return h, 0, nil
	}
	if b[lf-1] != '\r' { // lf >= 6: b[5] is a space
		return h, 0, errV1CRLF
	}
	line := b[6 : lf-1]
	n = lf + 1
	h.Version = 1
	h.Command = Proxy

	proto, rest, more := cut(line)
	switch string(proto) {
	case "UNKNOWN":
		// The receiver must ignore anything up to the CRLF.
		return h, n, nil
	case "TCP4":
		h.Family = FamilyInet
	case "TCP6":
		h.Family = FamilyInet6
	default:
		return Header{}, 0, errV1Proto
	}
	h.Transport = Stream
	if !more {
		return Header{}, 0, errV1Syntax
	}
	var src, dst, sport, dport []byte
	src, rest, more = cut(rest)
	if !more {
		return Header{}, 0, errV1Syntax
	}
	dst, rest, more = cut(rest)
	if !more {
		return Header{}, 0, errV1Syntax
	}
	sport, rest, more = cut(rest)
	if !more {
		return Header{}, 0, errV1Syntax
	}
	dport, _, more = cut(rest)
	if more {
		return Header{}, 0, errV1Syntax
	}
	var sa, da netip.Addr
	var ok bool
	if h.Family == FamilyInet {
		sa, ok = parseIPv4(src)
		if ok {
			da, ok = parseIPv4(dst)
		}
	} else {
		sa, ok = parseIPv6(src)
		if ok {
			da, ok = parseIPv6(dst)
		}
	}
	if !ok {
		return Header{}, 0, errV1Addr
	}
	sp, ok1 := parsePort(sport)
	dp, ok2 := parsePort(dport)
	if !ok1 || !ok2 {
		return Header{}, 0, errV1Port
	}
	h.Source = netip.AddrPortFrom(sa, sp)
	h.Destination = netip.AddrPortFrom(da, dp)
	return h, n, nil
}

// cut splits b at its first space: the token before it, the bytes after it,
// and whether there was a space.
func cut(b []byte) (tok, rest []byte, found bool) {
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// parsePort parses a decimal port, 0-65535, with no sign and no leading
// zero (but "0" itself).
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return 0, false
	}
	return uint16(v), true
}

// parseIPv4 parses a dotted-quad IPv4 address with decimal octets and no
// leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, v := i, 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 3 {
			v = v*10 + int(b[i]-'0')
			i++
		}
		digits := i - start
		if digits == 0 || v > 255 || (digits > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		a[k] = byte(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}

// parseIPv6 parses an IPv6 address in the text forms of RFC 4291 section
// 2.2: eight groups of 1-4 hex digits, one "::" for a run of zero groups,
// an optional dotted-quad IPv4 address as the last 32 bits. No zone.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var a [16]byte
	if len(b) < 2 || len(b) > 45 {
		return netip.Addr{}, false
	}
	ellipsis := -1 // index in a where "::" stands
	i, j := 0, 0   // i indexes b, j indexes a
	if b[0] == ':' {
		if b[1] != ':' {
			return netip.Addr{}, false
		}
		ellipsis = 0
		i = 2
	}
	for i < len(b) {
		start, v := i, 0
		for i < len(b) && i-start < 4 {
			d, ok := hexDigit(b[i])
			if !ok {
				break
			}
			v = v<<4 | d
			i++
		}
		if i < len(b) && b[i] == '.' {
			// The last 32 bits as a dotted quad.
			if j > 12 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b[start:])
			if !ok {
				return netip.Addr{}, false
			}
			q := v4.As4()
			copy(a[j:], q[:])
			j += 4
			break
		}
		if i == start || j > 14 {
			return netip.Addr{}, false
		}
		a[j], a[j+1] = byte(v>>8), byte(v)
		j += 2
		if i == len(b) {
			break
		}
		if b[i] != ':' { // a fifth hex digit or a stray byte
			return netip.Addr{}, false
		}
		i++
		if i == len(b) { // a trailing single ':'
			return netip.Addr{}, false
		}
		if b[i] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = j
			i++
		}
	}
	if ellipsis >= 0 {
		zeros := 16 - j
		if zeros < 2 { // "::" must stand for at least one group
			return netip.Addr{}, false
		}
		copy(a[ellipsis+zeros:], a[ellipsis:j])
		clear(a[ellipsis : ellipsis+zeros])
	} else if j != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(a), true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// parseV2 parses a binary header; b starts with (a prefix of) the v2
// signature.
func (p Parser) parseV2(b []byte) (h Header, n int, err error) {
	// Each byte of the fixed part is judged as soon as it is there.
	if len(b) <= 12 {
		return h, 0, nil
	}
	if b[12]>>4 != 2 {
		return h, 0, errV2Version
	}
	cmd := Command(b[12] & 0x0f)
	if cmd != Local && cmd != Proxy {
		return h, 0, errV2Command
	}
	if len(b) <= 13 {
		return h, 0, nil
	}
	fam, tr := Family(b[13]>>4), Transport(b[13]&0x0f)
	var addrLen int
	switch b[13] {
	case 0x00:
		addrLen = 0
	case 0x11, 0x12:
		addrLen = v2AddrLenInet
	case 0x21, 0x22:
		addrLen = v2AddrLenInet6
	case 0x31, 0x32:
		addrLen = v2AddrLenUnix
	default:
		return h, 0, errV2Family
	}
	if len(b) < V2FixedLen {
		return h, 0, nil
	}
	total := V2FixedLen + int(binary.BigEndian.Uint16(b[14:16]))
	limit := p.MaxV2Len
	if limit <= 0 {
		limit = DefaultMaxV2Len
	}
	if total > limit {
		return h, 0, errV2TooLong
	}
	if len(b) < total {
		return h, 0, nil
	}
	h.Version, h.Command, h.Family, h.Transport = 2, cmd, fam, tr
	body := b[V2FixedLen:total]
	if len(body) < addrLen {
		if cmd == Local {
			// The receiver skips a LOCAL header's block whatever it holds.
			return h, total, nil
		}
		return Header{}, 0, errV2Short
	}
	switch fam {
	case FamilyInet:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case FamilyInet6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
	case FamilyUnix:
		h.SourceUnix = unixPath(body[0:unixPathLen])
		h.DestinationUnix = unixPath(body[unixPathLen : 2*unixPathLen])
	}
	tlvs := body[addrLen:]
	if len(tlvs) > 0 {
		h.TLVs = tlvs[:len(tlvs):len(tlvs)]
		if err := checkTLVs(b[:total], V2FixedLen+addrLen); err != nil {
			return Header{}, 0, err
		}
	}
	return h, total, nil
}

// unixPath trims a v2 Unix address field's zero padding: at the first NUL
// for a path, after the last non-NUL byte for an abstract name (one that
// starts with NUL).
func unixPath(f []byte) []byte {
	end := 0
	if f[0] == 0 {
		for end = len(f); end > 0 && f[end-1] == 0; end-- {
		}
	} else {
		for end < len(f) && f[end] != 0 {
			end++
		}
	}
	return f[:end:end]
}

// checkTLVs checks the TLVs of header hdr, which start at offset off: each
// fits, a CRC32C is 4 bytes and matches, a UNIQUE_ID is at most 128 bytes.
func checkTLVs(hdr []byte, off int) error {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return errTLVTrunc
		}
		typ := hdr[off]
		vlen := int(binary.BigEndian.Uint16(hdr[off+1 : off+3]))
		voff := off + 3
		if len(hdr)-voff < vlen {
			return errTLVTrunc
		}
		switch typ {
		case TypeCRC32C:
			if vlen != 4 {
				return errTLVCRCLen
			}
			if checksum(hdr, voff) != binary.BigEndian.Uint32(hdr[voff:voff+4]) {
				return ErrBadChecksum
			}
		case TypeUniqueID:
			if vlen > MaxUniqueIDLen {
				return errTLVUniqueID
			}
		}
		off = voff + vlen
	}
	return nil
}

var zero4 [4]byte

// checksum returns the CRC32c of hdr with the 4 bytes at off taken as zero.
func checksum(hdr []byte, off int) uint32 {
	c := crc32.Update(0, castagnoli, hdr[:off])
	c = crc32.Update(c, castagnoli, zero4[:])
	return crc32.Update(c, castagnoli, hdr[off+4:])
}
