package balancer

import (
	"net/netip"
	"testing"
)

func ap(ip string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
}

func TestSourceAddrHashStablePerIP(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0, 0)
	for _, ip := range []string{"192.0.2.1", "198.51.100.200", "2001:db8::7", "fe80::1"} {
		want := b.Pick(ap(ip, 1), loops)
		for port := range uint16(50) {
			remotes := []netip.AddrPort{
				ap(ip, 1000+port),
				ap(ip, port),
				netip.AddrPortFrom(netip.MustParseAddr(ip).WithZone("eth0"), port),
			}
			for _, remote := range remotes {
				if got := b.Pick(remote, loops); got != want {
					t.Fatalf("%v: loop %d, want %d", remote, got, want)
				}
			}
		}
	}
}

func TestSourceAddrHashIPv4Mapped(t *testing.T) {
	for i := range 256 {
		v4 := netip.AddrFrom4([4]byte{10, 1, byte(i), byte(255 - i)})
		mapped := netip.AddrFrom16(v4.As16())
		if !mapped.Is4In6() {
			t.Fatal("bad test addresses")
		}
		h4, _ := hashAddr(v4)
		h16, _ := hashAddr(mapped)
		if h4 != h16 {
			t.Fatalf("%v: 4-byte hash %x, IPv4-mapped hash %x", v4, h4, h16)
		}
	}
}

// TestSourceAddrHashSpread checks that many client IPs spread roughly evenly
// over 4 loops, including hosts that differ only in high bits.
func TestSourceAddrHashSpread(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0, 0)
	v6 := func(base string, hi, lo int, i int) netip.Addr {
		a := netip.MustParseAddr(base).As16()
		a[hi], a[lo] = byte(i>>8), byte(i)
		return netip.AddrFrom16(a)
	}
	sets := map[string]func(i int) netip.Addr{
		"sequential IPv4": func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) },
		"multiples of 4": func(i int) netip.Addr {
			return netip.AddrFrom4([4]byte{10, byte(i >> 6), byte(i >> 6), byte(i << 2)})
		},
		"IPv6 hosts":    func(i int) netip.Addr { return v6("2001:db8::", 14, 15, i) },
		"IPv6 prefixes": func(i int) netip.Addr { return v6("2001:db8::1", 6, 7, i) },
	}
	const n = 4000
	for name, ipOf := range sets {
		var counts [4]int
		for i := range n {
			counts[b.Pick(netip.AddrPortFrom(ipOf(i), 80), loops)]++
		}
		// Expected 1000 each; a uniform hash stays within ±10% (about
		// 3.7 standard deviations) essentially always.
		for loop, c := range counts {
			if c < n/4*9/10 || c > n/4*11/10 {
				t.Errorf("%s: loop %d got %d of %d (%v)", name, loop, c, n, counts)
			}
		}
	}
}

func TestSourceAddrHashNoAddress(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0)
	if got := b.Pick(netip.AddrPort{}, loops); got != 0 {
		t.Errorf("zero remote: loop %d, want 0", got)
	}
}

func TestFNV1a(t *testing.T) {
	// Published FNV-1a 64 test vectors.
	for s, want := range map[string]uint64{
		"":       0xcbf29ce484222325,
		"a":      0xaf63dc4c8601ec8c,
		"foobar": 0x85944171f73967e8,
	} {
		if got := fnvString(fnvOffset64, s); got != want {
			t.Errorf("fnv1a64(%q) = %#x, want %#x", s, got, want)
		}
	}
}

// fnvString adds the bytes of s to an FNV-1a hash.
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvByte(h, s[i])
	}
	return h
}
