package balancer

import "net"

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
// For *net.TCPAddr, *net.UDPAddr and *net.IPAddr only the IP address is
// hashed: the port and any IPv6 zone are ignored, and an IPv4 address hashes
// the same in its 4-byte and IPv4-mapped IPv6 (::ffff:a.b.c.d) forms. Pick
// does not allocate for these. Any other address (such as *net.UnixAddr) is
// hashed on Network() and String(), which may allocate; note that the remote
// address of an accepted Unix-domain connection is usually unnamed, so all
// such connections share one loop. A nil remote (or a nil *net.TCPAddr,
// *net.UDPAddr or *net.IPAddr) always gets loop 0.
//
// The hash is FNV-1a (64-bit) followed by a bit-mixing step, so that the low
// bits used to pick among a few loops depend on every input bit; the loop is
// the mixed hash modulo len(loops).
func NewSourceAddrHash() Balancer {
	return sourceHash{}
}

// Pick returns the loop index for remote's host. Any goroutine may call it
// concurrently. It does not retain loops or remote. It panics if loops is
// empty.
func (sourceHash) Pick(remote net.Addr, loops []Loop) int {
	if len(loops) == 0 {
		panic(errNoLoops)
	}
	h, ok := hashAddr(remote)
	if !ok {
		return 0
	}
	return int(h % uint64(len(loops)))
}

// hashAddr returns the mixed hash of remote's host, or false for a nil
// address.
func hashAddr(remote net.Addr) (uint64, bool) {
	var ip net.IP
	switch a := remote.(type) {
	case nil:
		return 0, false
	case *net.TCPAddr:
		if a == nil {
			return 0, false
		}
		ip = a.IP
	case *net.UDPAddr:
		if a == nil {
			return 0, false
		}
		ip = a.IP
	case *net.IPAddr:
		if a == nil {
			return 0, false
		}
		ip = a.IP
	default:
		h := fnvString(fnvOffset64, a.Network())
		h = fnvByte(h, 0) // separates the network name from the address
		return mix(fnvString(h, a.String())), true
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	h := uint64(fnvOffset64)
	for _, c := range ip {
		h = fnvByte(h, c)
	}
	return mix(h), true
}

// fnvByte adds one byte to an FNV-1a hash.
func fnvByte(h uint64, c byte) uint64 {
	return (h ^ uint64(c)) * fnvPrime64
}

// fnvString adds the bytes of s to an FNV-1a hash.
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvByte(h, s[i])
	}
	return h
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
