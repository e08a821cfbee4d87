package balancer

import (
	"net"
	"strconv"
	"testing"
)

func BenchmarkPick(b *testing.B) {
	tcp4 := &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 443}
	tcp6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}
	unix := &net.UnixAddr{Name: "/run/client.sock", Net: "unix"}
	cases := []struct {
		name   string
		b      Balancer
		remote net.Addr
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
					bal.Pick(nil, loops)
				}
			})
		})
	}
}
