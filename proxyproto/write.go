package proxyproto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
)

var (
	errWriteFamily = errors.New("proxyproto: cannot write this header's family in this version")
	errWriteAddrs  = errors.New("proxyproto: header addresses do not match its family")
	errWriteLong   = errors.New("proxyproto: header too long to write")
	errWriteTLVs   = errors.New("proxyproto: header TLVs are malformed")
)

// AppendV1 appends h as a v1 line to dst. A Proxy header with FamilyInet or
// FamilyInet6 and valid addresses of that family is written as TCP4 or
// TCP6; any other header (LOCAL, AF_UNSPEC) as "PROXY UNKNOWN\r\n".
// AF_UNIX cannot be written in v1. TLVs are not written.
func AppendV1(dst []byte, h Header) ([]byte, error) {
	switch {
	case h.Command != Proxy || h.Family == FamilyUnspec:
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	case h.Family == FamilyInet:
		if !h.Source.Addr().Is4() || !h.Destination.Addr().Is4() {
			return dst, errWriteAddrs
		}
		dst = append(dst, "PROXY TCP4 "...)
	case h.Family == FamilyInet6:
		if !h.Source.Addr().Is6() || !h.Destination.Addr().Is6() ||
			h.Source.Addr().Zone() != "" || h.Destination.Addr().Zone() != "" {
			return dst, errWriteAddrs
		}
		dst = append(dst, "PROXY TCP6 "...)
	default:
		return dst, errWriteFamily
	}
	dst = h.Source.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = h.Destination.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Destination.Port()), 10)
	return append(dst, '\r', '\n'), nil
}

// AppendV2 appends h as a v2 header to dst: its command, family and
// transport, the address block the family needs (from Source/Destination or
// SourceUnix/DestinationUnix; zeros for a LOCAL header without addresses)
// and h.TLVs as they are, except that the value of a 4-byte CRC32C TLV, when
// there is one, is replaced by the header's checksum (the first such TLV only). (So a test builds a
// checksummed header by adding a CRC32C TLV with any value.)
func AppendV2(dst []byte, h Header) ([]byte, error) {
	var addrLen int
	switch h.Family {
	case FamilyUnspec:
	case FamilyInet:
		addrLen = v2AddrLenInet
	case FamilyInet6:
		addrLen = v2AddrLenInet6
	case FamilyUnix:
		addrLen = v2AddrLenUnix
	default:
		return dst, errWriteFamily
	}
	if h.Command != Local && h.Command != Proxy || h.Transport > Dgram ||
		(h.Family == FamilyUnspec) != (h.Transport == TransportUnspec) {
		return dst, errWriteFamily
	}
	if err := validTLVs(h.TLVs); err != nil {
		return dst, err
	}
	length := addrLen + len(h.TLVs)
	if length > 65535 {
		return dst, errWriteLong
	}
	start := len(dst)
	dst = append(dst, v2Sig...)
	dst = append(dst, 0x20|byte(h.Command), byte(h.Family)<<4|byte(h.Transport))
	dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	src, dstAddr := h.Source.Addr(), h.Destination.Addr()
	switch h.Family {
	case FamilyInet:
		if !src.IsValid() && !dstAddr.IsValid() && h.Command == Local {
			dst = append(dst, make([]byte, addrLen)...)
			break
		}
		if !src.Is4() || !dstAddr.Is4() {
			return dst[:start], errWriteAddrs
		}
		s, d := src.As4(), dstAddr.As4()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Destination.Port())
	case FamilyInet6:
		if !src.IsValid() && !dstAddr.IsValid() && h.Command == Local {
			dst = append(dst, make([]byte, addrLen)...)
			break
		}
		if !src.IsValid() || !dstAddr.IsValid() || src.Is4() || dstAddr.Is4() {
			return dst[:start], errWriteAddrs
		}
		s, d := src.As16(), dstAddr.As16()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Destination.Port())
	case FamilyUnix:
		if len(h.SourceUnix) > unixPathLen || len(h.DestinationUnix) > unixPathLen {
			return dst[:start], errWriteAddrs
		}
		var f [unixPathLen]byte
		copy(f[:], h.SourceUnix)
		dst = append(dst, f[:]...)
		f = [unixPathLen]byte{}
		copy(f[:], h.DestinationUnix)
		dst = append(dst, f[:]...)
	}
	tlvStart := len(dst)
	dst = append(dst, h.TLVs...)
	// Fill in the checksum, over the whole header with its field zeroed.
	hdr := dst[start:]
	for off := tlvStart - start; off < len(hdr); {
		typ, v, _, _ := NextTLV(hdr[off:])
		if typ == TypeCRC32C && len(v) == 4 {
			clear(hdr[off+3 : off+7])
			binary.BigEndian.PutUint32(hdr[off+3:], crc32.Checksum(hdr, castagnoli))
			break
		}
		off += 3 + len(v)
	}
	return dst, nil
}

func validTLVs(b []byte) error {
	for len(b) > 0 {
		_, _, rest, ok := NextTLV(b)
		if !ok {
			return errWriteTLVs
		}
		b = rest
	}
	return nil
}

// AppendTLV appends a TLV of type typ with the given value to dst, to build
// Header.TLVs. It panics if value is longer than 65535 bytes.
func AppendTLV(dst []byte, typ byte, value []byte) []byte {
	if len(value) > 65535 {
		panic("proxyproto: TLV value longer than 65535 bytes")
	}
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(value)))
	return append(dst, value...)
}

// Format returns h as a header of its Version (1 or 2, where 0 means 2);
// see AppendV1 and AppendV2.
func (h *Header) Format() ([]byte, error) {
	if h.Version == 1 {
		return AppendV1(nil, *h)
	}
	return AppendV2(nil, *h)
}
