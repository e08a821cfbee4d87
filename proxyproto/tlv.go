package proxyproto

import "encoding/binary"

// TLV types of the spec (section 2.2.1 ff.) and the cloud providers' custom
// ones.
const (
	TypeALPN      = 0x01 // PP2_TYPE_ALPN: the TLS ALPN protocol, opaque bytes
	TypeAuthority = 0x02 // PP2_TYPE_AUTHORITY: host name (TLS SNI), UTF-8
	TypeCRC32C    = 0x03 // PP2_TYPE_CRC32C: 32-bit CRC32c of the header
	TypeNoop      = 0x04 // PP2_TYPE_NOOP: padding, to be ignored
	TypeUniqueID  = 0x05 // PP2_TYPE_UNIQUE_ID: opaque id, at most 128 bytes
	TypeSSL       = 0x20 // PP2_TYPE_SSL: TLS information, with sub-TLVs
	TypeNetNS     = 0x30 // PP2_TYPE_NETNS: network namespace name, US-ASCII

	// Sub-TLVs of TypeSSL.
	SubtypeSSLVersion    = 0x21 // PP2_SUBTYPE_SSL_VERSION: e.g. "TLSv1.3"
	SubtypeSSLCN         = 0x22 // PP2_SUBTYPE_SSL_CN: client certificate's CN
	SubtypeSSLCipher     = 0x23 // PP2_SUBTYPE_SSL_CIPHER: e.g. "ECDHE-RSA-AES128-GCM-SHA256"
	SubtypeSSLSigAlg     = 0x24 // PP2_SUBTYPE_SSL_SIG_ALG: certificate signature algorithm
	SubtypeSSLKeyAlg     = 0x25 // PP2_SUBTYPE_SSL_KEY_ALG: certificate key algorithm
	SubtypeSSLGroup      = 0x26 // PP2_SUBTYPE_SSL_GROUP: key exchange group
	SubtypeSSLSigScheme  = 0x27 // PP2_SUBTYPE_SSL_SIG_SCHEME: signature scheme
	SubtypeSSLClientCert = 0x28 // PP2_SUBTYPE_SSL_CLIENT_CERT: client certificate, DER

	// Custom types (0xE0-0xEF are reserved for applications).
	TypeGCP   = 0xE0 // Google Cloud PSC: 8-byte connection id, big endian
	TypeAWS   = 0xEA // AWS: subtype byte, then the value
	TypeAzure = 0xEE // Azure: subtype byte, then the value

	SubtypeAWSVPCEndpointID   = 0x01 // AWS VPC endpoint id, ASCII
	SubtypeAzurePrivateLinkID = 0x01 // Azure private endpoint LinkID, uint32 little endian

	// MaxUniqueIDLen is the longest UNIQUE_ID value the spec allows.
	MaxUniqueIDLen = 128
)

// Client flags of an SSL TLV (SSL.Client).
const (
	ClientSSL      = 0x01 // PP2_CLIENT_SSL: the client connected over TLS
	ClientCertConn = 0x02 // PP2_CLIENT_CERT_CONN: it sent a certificate on this connection
	ClientCertSess = 0x04 // PP2_CLIENT_CERT_SESS: it sent one in this TLS session (maybe resumed)
)

// NextTLV splits the first TLV off b: its type and value (a sub-slice of b)
// and the bytes after it. ok is false when b is empty or its first TLV is
// truncated (a 3-byte type/length prefix, then length bytes of value).
func NextTLV(b []byte) (typ byte, value, rest []byte, ok bool) {
	if len(b) < 3 {
		return 0, nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if len(b)-3 < n {
		return 0, nil, nil, false
	}
	return b[0], b[3 : 3+n : 3+n], b[3+n:], true
}

// EachTLV calls f with each TLV of h in order (NOOP ones included) until f
// returns false. value aliases h.TLVs. Iteration stops at a malformed TLV,
// which a header from Parse does not have.
func (h *Header) EachTLV(f func(typ byte, value []byte) bool) {
	for b := h.TLVs; len(b) > 0; {
		typ, v, rest, ok := NextTLV(b)
		if !ok || !f(typ, v) {
			return
		}
		b = rest
	}
}

// FindTLV returns the value of h's first TLV of type typ, aliasing h.TLVs.
func (h *Header) FindTLV(typ byte) (value []byte, ok bool) {
	return findTLV(h.TLVs, typ)
}

func findTLV(b []byte, typ byte) ([]byte, bool) {
	for len(b) > 0 {
		t, v, rest, ok := NextTLV(b)
		if !ok {
			return nil, false
		}
		if t == typ {
			return v, true
		}
		b = rest
	}
	return nil, false
}

// ALPN returns the ALPN protocol the client negotiated with the proxy
// (e.g. "h2"), aliasing h.TLVs.
func (h *Header) ALPN() ([]byte, bool) { return h.FindTLV(TypeALPN) }

// Authority returns the host name the client asked for (the TLS SNI when
// the proxy terminated TLS), aliasing h.TLVs.
func (h *Header) Authority() ([]byte, bool) { return h.FindTLV(TypeAuthority) }

// UniqueID returns the connection's unique id (at most 128 opaque bytes),
// aliasing h.TLVs.
func (h *Header) UniqueID() ([]byte, bool) {
	v, ok := h.FindTLV(TypeUniqueID)
	if !ok || len(v) > MaxUniqueIDLen {
		return nil, false
	}
	return v, true
}

// NetNS returns the name of the network namespace the proxy accepted the
// connection in, aliasing h.TLVs.
func (h *Header) NetNS() ([]byte, bool) { return h.FindTLV(TypeNetNS) }

// CRC32C returns the checksum the header carried. Parse has verified it.
func (h *Header) CRC32C() (uint32, bool) {
	v, ok := h.FindTLV(TypeCRC32C)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// AWSVPCEndpointID returns the AWS VPC endpoint id (type 0xEA, subtype
// 0x01), e.g. "vpce-08d2bf15fac5001c9", aliasing h.TLVs.
func (h *Header) AWSVPCEndpointID() ([]byte, bool) {
	for b := h.TLVs; len(b) > 0; {
		typ, v, rest, ok := NextTLV(b)
		if !ok {
			break
		}
		if typ == TypeAWS && len(v) >= 1 && v[0] == SubtypeAWSVPCEndpointID {
			return v[1:], true
		}
		b = rest
	}
	return nil, false
}

// AzurePrivateLinkID returns the Azure private endpoint LinkID (type 0xEE,
// subtype 0x01, a little-endian uint32).
func (h *Header) AzurePrivateLinkID() (uint32, bool) {
	for b := h.TLVs; len(b) > 0; {
		typ, v, rest, ok := NextTLV(b)
		if !ok {
			break
		}
		if typ == TypeAzure && len(v) == 5 && v[0] == SubtypeAzurePrivateLinkID {
			return binary.LittleEndian.Uint32(v[1:]), true
		}
		b = rest
	}
	return 0, false
}

// GCPPSCConnectionID returns the Google Cloud Private Service Connect
// connection id (type 0xE0, a big-endian uint64).
func (h *Header) GCPPSCConnectionID() (uint64, bool) {
	v, ok := h.FindTLV(TypeGCP)
	if !ok || len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// SSL is the value of an SSL TLV: what the proxy knows of the client's TLS
// connection. Its sub-TLVs alias the header's TLVs.
type SSL struct {
	// Client holds the ClientSSL, ClientCertConn and ClientCertSess flags.
	Client byte
	// Verify is zero when the client presented a certificate and it was
	// verified, non-zero otherwise.
	Verify uint32
	// Sub holds the raw sub-TLVs (version, CN, cipher …), well formed.
	Sub []byte
}

// SSL returns h's SSL TLV. ok is false when there is none or it is
// malformed (shorter than 5 bytes, or sub-TLVs that do not fit).
func (h *Header) SSL() (s SSL, ok bool) {
	v, found := h.FindTLV(TypeSSL)
	if !found || len(v) < 5 {
		return SSL{}, false
	}
	s = SSL{Client: v[0], Verify: binary.BigEndian.Uint32(v[1:5]), Sub: v[5:]}
	for b := s.Sub; len(b) > 0; {
		_, _, rest, ok := NextTLV(b)
		if !ok {
			return SSL{}, false
		}
		b = rest
	}
	return s, true
}

// UsedSSL reports whether the client connected to the proxy over TLS.
func (s SSL) UsedSSL() bool { return s.Client&ClientSSL != 0 }

// Verified reports whether the client presented a certificate (on this
// connection or its session) and the proxy verified it.
func (s SSL) Verified() bool {
	return s.Verify == 0 && s.Client&(ClientCertConn|ClientCertSess) != 0
}

// Find returns the value of the first sub-TLV of type typ.
func (s SSL) Find(typ byte) ([]byte, bool) { return findTLV(s.Sub, typ) }

// Version returns the TLS version (e.g. "TLSv1.3").
func (s SSL) Version() ([]byte, bool) { return s.Find(SubtypeSSLVersion) }

// CN returns the Common Name of the client certificate's subject.
func (s SSL) CN() ([]byte, bool) { return s.Find(SubtypeSSLCN) }

// Cipher returns the cipher suite name (e.g. "ECDHE-RSA-AES128-GCM-SHA256").
func (s SSL) Cipher() ([]byte, bool) { return s.Find(SubtypeSSLCipher) }

// SigAlg returns the algorithm that signed the client certificate (e.g.
// "SHA256").
func (s SSL) SigAlg() ([]byte, bool) { return s.Find(SubtypeSSLSigAlg) }

// KeyAlg returns the client certificate's key algorithm (e.g. "RSA2048").
func (s SSL) KeyAlg() ([]byte, bool) { return s.Find(SubtypeSSLKeyAlg) }
