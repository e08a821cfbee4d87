package balancer_test

import (
	"fmt"
	"net/netip"

	"github.com/mill-io/mill/balancer"
)

// loop stands in for a sub-reactor; a real one would count its connections
// atomically.
type loop struct{ conns int }

func (l *loop) Conns() int { return l.conns }

func ExampleNewRoundRobin() {
	loops := []balancer.Loop{&loop{}, &loop{}, &loop{}}
	b := balancer.NewRoundRobin()
	var picks []int
	for range 5 {
		picks = append(picks, b.Pick(netip.AddrPort{}, loops))
	}
	fmt.Println(picks)
	// Output: [0 1 2 0 1]
}

func ExampleNewLeastConnections() {
	busy := &loop{conns: 5}
	loops := []balancer.Loop{busy, &loop{conns: 2}, &loop{conns: 2}, &loop{conns: 2}}
	b := balancer.NewLeastConnections()
	// A burst: the loops have not counted the new connections yet, so
	// loops 1-3 tie and take turns.
	var picks []int
	for range 4 {
		picks = append(picks, b.Pick(netip.AddrPort{}, loops))
	}
	fmt.Println(picks)
	// Loop 0's connections close: it becomes the least loaded.
	busy.conns = 0
	fmt.Println(b.Pick(netip.AddrPort{}, loops))
	// Output:
	// [1 2 3 1]
	// 0
}

func ExampleNewSourceAddrHash() {
	loops := []balancer.Loop{&loop{}, &loop{}, &loop{}, &loop{}}
	b := balancer.NewSourceAddrHash()
	first := b.Pick(netip.MustParseAddrPort("192.0.2.10:50000"), loops)
	// Another connection from the same host, from another port and
	// written as an IPv4-mapped IPv6 address, lands on the same loop.
	again := b.Pick(netip.MustParseAddrPort("[::ffff:192.0.2.10]:50001"), loops)
	fmt.Println(first == again)
	// Output: true
}
