package balancer

import "net/netip"

// FNV-1a, 64-bit variant.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// sourceHash sends every connection from one host to the same loop.
type sourceHash struct{}

// NewSourceAddrHash returns a Balancer that hashes the remote host, so all
// connections from one client host land on the same loop (like nginx
// ip_hash), as long as the number of loops does not change. It ignores the
// loops' loads.
//
// Only the IP address is hashed: the port and any IPv6 zone are ignored,
// and an IPv4 address hashes the same in its IPv4-mapped IPv6 form
// (::ffff:a.b.c.d). A remote without an IP address (the zero AddrPort,
// as for Unix-domain connections) always gets loop 0. Pick does not
// allocate.
//
// The hash is FNV-1a (64-bit) followed by a bit-mixing step, so that the low
// bits used to pick among a few loops depend on every input bit; the loop is
// the mixed hash modulo len(loops).
func NewSourceAddrHash() Balancer {
	return sourceHash{}
}

// Pick returns the loop index for remote's host. Any goroutine may call it
// concurrently. It does not retain loops. It panics if loops is empty.
func (sourceHash) Pick(remote netip.AddrPort, loops []Loop) int {
	if len(loops) == 0 {
		panic(errNoLoops)
	}
	h, ok := hashAddr(remote.Addr())
	if !ok {
		return 0
	}
	return int(h % uint64(len(loops)))
}

// hashAddr returns the mixed hash of ip, or false for the zero Addr.
func hashAddr(ip netip.Addr) (uint64, bool) {
	if !ip.IsValid() {
		return 0, false
	}
	h := uint64(fnvOffset64)
	if ip = ip.Unmap(); ip.Is4() {
		for _, c := range ip.As4() {
			h = fnvByte(h, c)
		}
	} else {
		for _, c := range ip.As16() {
			h = fnvByte(h, c)
		}
	}
	return mix(h), true
}

// fnvByte adds one byte to an FNV-1a hash.
func fnvByte(h uint64, c byte) uint64 {
	return (h ^ uint64(c)) * fnvPrime64
}

// mix spreads every bit of h over the low bits. FNV-1a alone is weak there:
// its low k bits depend only on the low k bits of each input byte, so hosts
// differing only in higher bits (10.0.0.4 and 10.0.0.8) would share a loop
// whenever the loop count is a power of two. This is the MurmurHash3 64-bit
// finaliser (xor-shifts and two odd multipliers), a bijection on uint64.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
