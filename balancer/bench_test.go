package balancer

import (
	"net/netip"
	"strconv"
	"testing"
)

func BenchmarkPick(b *testing.B) {
	tcp4 := netip.MustParseAddrPort("198.51.100.9:443")
	tcp6 := netip.MustParseAddrPort("[2001:db8::1]:443")
	unix := netip.AddrPort{}
	cases := []struct {
		name   string
		b      Balancer
		remote netip.AddrPort
	}{
		{"RoundRobin", NewRoundRobin(), tcp4},
		{"LeastConnections", NewLeastConnections(), tcp4},
		{"SourceAddrHash/tcp4", NewSourceAddrHash(), tcp4},
		{"SourceAddrHash/tcp6", NewSourceAddrHash(), tcp6},
		{"SourceAddrHash/unix", NewSourceAddrHash(), unix},
	}
	for _, nloops := range []int{4, 16} {
		counts := make([]int, nloops)
		for i := range counts {
			counts[i] = 10 + i%3 // some ties
		}
		loops, _ := newLoops(counts...)
		for _, c := range cases {
			b.Run(c.name+"/loops="+strconv.Itoa(nloops), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.b.Pick(c.remote, loops)
				}
			})
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	loops, _ := newLoops(1, 1, 1, 1, 1, 1, 1, 1)
	for name, bal := range map[string]Balancer{
		"RoundRobin":       NewRoundRobin(),
		"LeastConnections": NewLeastConnections(),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bal.Pick(netip.AddrPort{}, loops)
				}
			})
		})
	}
}
