package balancer

import (
	"net"
	"net/netip"
	"testing"
)

func TestSourceAddrHashStablePerIP(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0, 0)
	for _, ip := range []string{"192.0.2.1", "198.51.100.200", "2001:db8::7", "fe80::1"} {
		want := b.Pick(&net.TCPAddr{IP: net.ParseIP(ip), Port: 1}, loops)
		for port := range 50 {
			remotes := []net.Addr{
				&net.TCPAddr{IP: net.ParseIP(ip), Port: 1000 + port},
				&net.UDPAddr{IP: net.ParseIP(ip), Port: 2000 + port},
				&net.IPAddr{IP: net.ParseIP(ip)},
				&net.TCPAddr{IP: net.ParseIP(ip), Port: port, Zone: "eth0"},
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
		v4 := net.IPv4(10, 1, byte(i), byte(255-i)).To4()
		mapped := net.IPv4(10, 1, byte(i), byte(255-i)).To16()
		if len(v4) != 4 || len(mapped) != 16 {
			t.Fatal("bad test addresses")
		}
		h4, _ := hashAddr(&net.TCPAddr{IP: v4})
		h16, _ := hashAddr(&net.TCPAddr{IP: mapped})
		if h4 != h16 {
			t.Fatalf("%v: 4-byte hash %x, IPv4-mapped hash %x", v4, h4, h16)
		}
	}
	// A TCPAddr built from a netip.AddrPort keeps the 16-byte form.
	ap := netip.MustParseAddrPort("[::ffff:203.0.113.5]:80")
	a, b := net.TCPAddrFromAddrPort(ap), &net.TCPAddr{IP: net.IP{203, 0, 113, 5}, Port: 9}
	ha, _ := hashAddr(a)
	hb, _ := hashAddr(b)
	if ha != hb {
		t.Fatalf("%v and %v hash differently", a, b)
	}
}

// TestSourceAddrHashSpread checks that many client IPs spread roughly evenly
// over 4 loops, including hosts that differ only in high bits.
func TestSourceAddrHashSpread(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0, 0)
	sets := map[string]func(i int) net.IP{
		"sequential IPv4": func(i int) net.IP { return net.IPv4(10, 0, byte(i>>8), byte(i)) },
		"multiples of 4":  func(i int) net.IP { return net.IPv4(10, byte(i>>6), byte(i>>6), byte(i<<2)) },
		"IPv6 hosts": func(i int) net.IP {
			ip := net.ParseIP("2001:db8::")
			ip[14], ip[15] = byte(i>>8), byte(i)
			return ip
		},
		"IPv6 prefixes": func(i int) net.IP {
			ip := net.ParseIP("2001:db8::1")
			ip[6], ip[7] = byte(i>>8), byte(i)
			return ip
		},
	}
	const n = 4000
	for name, ipOf := range sets {
		var counts [4]int
		for i := range n {
			counts[b.Pick(&net.TCPAddr{IP: ipOf(i), Port: 80}, loops)]++
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

func TestSourceAddrHashOtherAddrs(t *testing.T) {
	b := NewSourceAddrHash()
	loops, _ := newLoops(0, 0, 0)
	if got := b.Pick(nil, loops); got != 0 {
		t.Errorf("nil remote: loop %d, want 0", got)
	}
	for _, nilAddr := range []net.Addr{(*net.TCPAddr)(nil), (*net.UDPAddr)(nil), (*net.IPAddr)(nil)} {
		if got := b.Pick(nilAddr, loops); got != 0 {
			t.Errorf("%T(nil): loop %d, want 0", nilAddr, got)
		}
	}
	// Unix addresses hash on network and name: stable, and spread.
	seen := map[int]bool{}
	for i := range 100 {
		name := "/tmp/client-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		u := &net.UnixAddr{Name: name, Net: "unix"}
		got := b.Pick(u, loops)
		if again := b.Pick(&net.UnixAddr{Name: name, Net: "unix"}, loops); again != got {
			t.Fatalf("%v: loop %d then %d", u, got, again)
		}
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Errorf("100 Unix addresses used loops %v, want all 3", seen)
	}
	// The network name takes part in the hash.
	hu, _ := hashAddr(&net.UnixAddr{Name: "x", Net: "unix"})
	hp, _ := hashAddr(&net.UnixAddr{Name: "x", Net: "unixpacket"})
	if hu == hp {
		t.Error("unix and unixpacket addresses with one name hash the same")
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
