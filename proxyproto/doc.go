// Package proxyproto parses the PROXY protocol header (versions 1 and 2, as
// specified by HAProxy's doc/proxy-protocol.txt) that a load balancer puts in
// front of a proxied TCP connection's data, so a server learns the client's
// real addresses.
//
// The parser is incremental and allocation-free, built for an event loop: the
// caller keeps the connection's first bytes in a buffer and calls [Parse] with
// everything received so far after each read. Parse answers one of:
//
//   - need more: n == 0 and err == nil. Call again when more bytes arrive;
//     [HeaderLen] tells how many bytes the header will take once that is
//     known (at once for v2 after 16 bytes, for v1 when the CRLF is seen).
//   - done: err == nil and n > 0. The header took b[:n]; b[n:] is the
//     client's own data and must be delivered to the application.
//   - [ErrNoHeader]: b does not start with a PROXY protocol signature. A
//     listener that requires a header closes the connection; one that accepts
//     a header optionally (from trusted peers only) serves b as client data.
//     It is decided as soon as a byte differs from both signatures, so an
//     optional listener waits for at most 12 bytes (5 for "PROXY") before it
//     knows; a client that sends fewer and waits for the server is held
//     until the header timeout.
//   - any other error: the header is invalid and the connection must be
//     closed. Errors are matchable with errors.Is: [ErrInvalidHeader],
//     [ErrInvalidTLV] (which also matches ErrInvalidHeader),
//     [ErrHeaderTooLong], [ErrBadChecksum] and [ErrUnsupported].
//
// Repeated calls are cheap: a v2 header needs 16 bytes to know its length and
// Parse returns "need more" in constant time until that many bytes are
// there; a v1 line is at most 107 bytes, so rescanning it is bounded. Parse
// never panics, whatever the input (it is fuzzed).
//
// # Buffer ownership
//
// A [Header] returned by Parse aliases the caller's buffer: its TLVs
// ([Header.TLVs]) and, for AF_UNIX, its socket paths are sub-slices of b.
// They stay valid only while b's bytes are neither overwritten nor reused.
// A caller that keeps the header longer than its read buffer (for instance
// to expose it on a connection) calls [Header.Clone], which copies those
// bytes once into a fresh allocation. Addresses ([Header.Source],
// [Header.Destination]) are netip values and never alias b.
//
// # Limits
//
// A v1 line is at most 107 bytes including its CRLF (the spec's worst case);
// a longer one is [ErrHeaderTooLong]. A v2 header is 16 bytes plus a declared
// length of up to 65535; [Parse] caps the total at [DefaultMaxV2Len] (4 KiB)
// and a [Parser] with a larger MaxV2Len accepts more (large SSL TLVs with
// client certificates may need it). A header over the cap is refused as soon
// as its fixed part is read, before the rest arrives.
//
// # What is checked
//
//   - v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF
//     with single spaces, addresses of the stated family (dotted-quad IPv4
//     without leading zeros; IPv6 without zone; an IPv4-mapped address is
//     not accepted under TCP4), decimal ports 0-65535 without leading zeros,
//     no CR or LF other than the final CRLF. "PROXY UNKNOWN" ignores
//     anything up to the CRLF.
//   - v2: signature, version 2, command LOCAL or PROXY, a defined
//     family/transport byte (0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32), an
//     address block as long as the family needs, TLVs that fit exactly in
//     the declared length, a CRC32C TLV of 4 bytes whose checksum matches
//     (Castagnoli, over the whole header with the field zeroed), a UNIQUE_ID
//     of at most 128 bytes.
//   - LOCAL (health checks from the proxy itself) is accepted whatever its
//     family; its addresses are not to be used ([Header.Addrs] reports
//     none). A LOCAL header whose length is too short for its family is
//     accepted with no addresses and no TLVs, since the spec tells the
//     receiver to skip the block. PROXY with AF_UNSPEC (v2) and v1 UNKNOWN
//     are accepted with unknown addresses: the caller uses the real
//     connection's endpoints.
//
// Headers can also be written, with [AppendV1], [AppendV2] and
// [Header.Format], to build them in tests and examples.
package proxyproto
