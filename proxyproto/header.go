package proxyproto

import (
	"errors"
	"fmt"
	"net/netip"
)

// Command is a PROXY protocol command: what the connection is.
type Command uint8

const (
	// Local is a connection the proxy opened on its own behalf, typically a
	// health check. The receiver must use the real connection's endpoints
	// and ignore any addresses in the header. Only v2 has it.
	Local Command = 0x0
	// Proxy is a connection relayed for a client; the header's addresses,
	// when its family is known, are the client's and the proxy's.
	Proxy Command = 0x1
)

// String returns "LOCAL", "PROXY" or a hex value.
func (c Command) String() string {
	switch c {
	case Local:
		return "LOCAL"
	case Proxy:
		return "PROXY"
	}
	return fmt.Sprintf("Command(%#x)", uint8(c))
}

// Family is the address family of a header's addresses, with the values of
// the high nibble of a v2 header's 14th byte.
type Family uint8

const (
	// FamilyUnspec means the addresses are unknown (v2 AF_UNSPEC, v1
	// UNKNOWN): the receiver uses the real connection's endpoints.
	FamilyUnspec Family = 0x0
	// FamilyInet is IPv4 (v1 TCP4, v2 AF_INET).
	FamilyInet Family = 0x1
	// FamilyInet6 is IPv6 (v1 TCP6, v2 AF_INET6).
	FamilyInet6 Family = 0x2
	// FamilyUnix is a Unix socket (v2 AF_UNIX); its paths are in
	// Header.SourceUnix and Header.DestinationUnix.
	FamilyUnix Family = 0x3
)

// String returns the family's name as the spec writes it.
func (f Family) String() string {
	switch f {
	case FamilyUnspec:
		return "AF_UNSPEC"
	case FamilyInet:
		return "AF_INET"
	case FamilyInet6:
		return "AF_INET6"
	case FamilyUnix:
		return "AF_UNIX"
	}
	return fmt.Sprintf("Family(%#x)", uint8(f))
}

// Transport is the transport protocol of the proxied connection, with the
// values of the low nibble of a v2 header's 14th byte.
type Transport uint8

const (
	// TransportUnspec means the transport is unknown (v2 UNSPEC, v1 UNKNOWN).
	TransportUnspec Transport = 0x0
	// Stream is a stream transport: TCP, or a SOCK_STREAM Unix socket. Every
	// v1 TCP4/TCP6 header is Stream.
	Stream Transport = 0x1
	// Dgram is a datagram transport: UDP, or a SOCK_DGRAM Unix socket.
	Dgram Transport = 0x2
)

// String returns "UNSPEC", "STREAM", "DGRAM" or a hex value.
func (t Transport) String() string {
	switch t {
	case TransportUnspec:
		return "UNSPEC"
	case Stream:
		return "STREAM"
	case Dgram:
		return "DGRAM"
	}
	return fmt.Sprintf("Transport(%#x)", uint8(t))
}

// Header is a parsed PROXY protocol header.
//
// Headers returned by [Parse] alias the parsed buffer through TLVs,
// SourceUnix and DestinationUnix; see [Header.Clone].
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Command is Proxy, or Local for a v2 health check. A v1 header is
	// always Proxy (v1 UNKNOWN is Proxy with FamilyUnspec).
	Command Command
	// Family is the address family the sender declared. For a LOCAL header
	// it is informational only.
	Family Family
	// Transport is the transport the sender declared.
	Transport Transport
	// Source is the client's address and port (the connection's remote
	// end), set for FamilyInet and FamilyInet6 when the header carries
	// addresses. Use [Header.Addrs], which also checks the command. An
	// IPv4-mapped IPv6 address (v1 TCP6 "::ffff:192.0.2.1", or in a v2
	// AF_INET6 block) is kept as sent; Unmap it to compare with IPv4.
	Source netip.AddrPort
	// Destination is the address and port the client connected to (the
	// proxy's listening address), set like Source.
	Destination netip.AddrPort
	// SourceUnix and DestinationUnix are the Unix socket paths of a
	// FamilyUnix header, without the zero padding of the wire format (an
	// abstract name, which starts with a NUL byte, keeps it and loses only
	// trailing NULs). Each is at most 108 bytes.
	SourceUnix, DestinationUnix []byte
	// TLVs holds the v2 header's raw type-length-value vectors, after the
	// address block, exactly as received (a CRC32C value included). Parse
	// has checked that they are well formed; iterate them with
	// [Header.EachTLV] or [NextTLV], or use the helpers ([Header.ALPN],
	// [Header.SSL] …). Empty for v1.
	TLVs []byte
}

// Addrs returns the client's (src) and the proxy's (dst) addresses and true
// when the header carries usable ones: a Proxy command with an IPv4 or IPv6
// family. Otherwise (LOCAL, UNKNOWN/AF_UNSPEC, AF_UNIX) it returns false and
// the caller keeps the real connection's endpoints.
func (h *Header) Addrs() (src, dst netip.AddrPort, ok bool) {
	if h.Command != Proxy || (h.Family != FamilyInet && h.Family != FamilyInet6) {
		return netip.AddrPort{}, netip.AddrPort{}, false
	}
	if !h.Source.IsValid() || !h.Destination.IsValid() {
		return netip.AddrPort{}, netip.AddrPort{}, false
	}
	return h.Source, h.Destination, true
}

// Clone returns a copy of h that no longer aliases the parsed buffer: TLVs
// and the Unix paths are copied into one new allocation (none when they are
// all empty).
func (h *Header) Clone() Header {
	c := *h
	buf := make([]byte, 0, len(h.TLVs)+len(h.SourceUnix)+len(h.DestinationUnix))
	take := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	c.TLVs = take(h.TLVs)
	c.SourceUnix = take(h.SourceUnix)
	c.DestinationUnix = take(h.DestinationUnix)
	return c
}

// Errors returned by Parse. Every error Parse returns is one of these, or
// wraps one of them with details (match with errors.Is).
var (
	// ErrNoHeader means the bytes do not start with a PROXY protocol
	// signature (neither "PROXY" nor the v2 binary signature). With a
	// listener that accepts a header optionally, the bytes are the client's
	// own data; with one that requires a header, the connection is refused.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
	// ErrInvalidHeader means the bytes start with a signature but the header
	// breaks the spec: bad v1 syntax or address, a v2 address block shorter
	// than its family needs, a malformed TLV (see ErrInvalidTLV) …
	ErrInvalidHeader = errors.New("proxyproto: invalid PROXY protocol header")
	// ErrInvalidTLV means a v2 header's TLVs are malformed: one runs past
	// the header's end, a CRC32C value is not 4 bytes, a UNIQUE_ID is longer
	// than 128 bytes. It also matches ErrInvalidHeader.
	ErrInvalidTLV = fmt.Errorf("%w: malformed TLV", ErrInvalidHeader)
	// ErrHeaderTooLong means a v1 line has no CRLF within 107 bytes, or a v2
	// header declares a total length above the parser's limit.
	ErrHeaderTooLong = errors.New("proxyproto: PROXY protocol header too long")
	// ErrBadChecksum means a v2 header's CRC32C TLV does not match the
	// header.
	ErrBadChecksum = errors.New("proxyproto: PROXY protocol header checksum mismatch")
	// ErrUnsupported means a v2 header declares a version other than 2, a
	// command other than LOCAL and PROXY, or an address family/transport
	// byte the spec does not define.
	ErrUnsupported = errors.New("proxyproto: unsupported PROXY protocol version, command or family")
)

// Detailed errors, made once so that failing costs no allocation either.
var (
	errV1Syntax    = fmt.Errorf("%w: v1 line syntax", ErrInvalidHeader)
	errV1CRLF      = fmt.Errorf("%w: v1 line must end with CRLF and hold no other CR or LF", ErrInvalidHeader)
	errV1Proto     = fmt.Errorf("%w: v1 protocol is not TCP4, TCP6 or UNKNOWN", ErrInvalidHeader)
	errV1Addr      = fmt.Errorf("%w: v1 address not valid for its family", ErrInvalidHeader)
	errV1Port      = fmt.Errorf("%w: v1 port", ErrInvalidHeader)
	errV1TooLong   = fmt.Errorf("%w: v1 line longer than 107 bytes", ErrHeaderTooLong)
	errV2TooLong   = fmt.Errorf("%w: v2 header longer than the limit", ErrHeaderTooLong)
	errV2Version   = fmt.Errorf("%w: v2 version is not 2", ErrUnsupported)
	errV2Command   = fmt.Errorf("%w: v2 command is not LOCAL or PROXY", ErrUnsupported)
	errV2Family    = fmt.Errorf("%w: v2 address family/transport byte", ErrUnsupported)
	errV2Short     = fmt.Errorf("%w: v2 length shorter than the family's address block", ErrInvalidHeader)
	errTLVTrunc    = fmt.Errorf("%w: TLV runs past the end of the header", ErrInvalidTLV)
	errTLVCRCLen   = fmt.Errorf("%w: CRC32C value is not 4 bytes", ErrInvalidTLV)
	errTLVUniqueID = fmt.Errorf("%w: UNIQUE_ID longer than 128 bytes", ErrInvalidTLV)
)
