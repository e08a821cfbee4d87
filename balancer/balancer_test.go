package balancer

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeLoop is a Loop with a settable connection count.
type fakeLoop struct{ n atomic.Int64 }

func (l *fakeLoop) Conns() int { return int(l.n.Load()) }

// newLoops returns loops with the given connection counts.
func newLoops(counts ...int) ([]Loop, []*fakeLoop) {
	loops := make([]Loop, len(counts))
	fakes := make([]*fakeLoop, len(counts))
	for i, c := range counts {
		fakes[i] = &fakeLoop{}
		fakes[i].n.Store(int64(c))
		loops[i] = fakes[i]
	}
	return loops, fakes
}

func TestRoundRobinCycle(t *testing.T) {
	b := NewRoundRobin()
	loops, _ := newLoops(9, 0, 5)
	for i := range 10 {
		if got := b.Pick(netip.AddrPort{}, loops); got != i%3 {
			t.Fatalf("pick %d: got %d, want %d", i, got, i%3)
		}
	}
	one, _ := newLoops(0)
	for range 3 {
		if got := b.Pick(netip.AddrPort{}, one); got != 0 {
			t.Fatalf("single loop: got %d", got)
		}
	}
}

func TestLeastConnectionsPicksMinimum(t *testing.T) {
	tests := []struct {
		counts []int
		want   int
	}{
		{[]int{0}, 0},
		{[]int{3, 1, 2}, 1},
		{[]int{5, 4, 3, 2}, 3},
		{[]int{1, 7, 0, 9}, 2},
	}
	for _, tt := range tests {
		b := NewLeastConnections()
		loops, _ := newLoops(tt.counts...)
		for range 5 {
			if got := b.Pick(netip.AddrPort{}, loops); got != tt.want {
				t.Errorf("%v: got %d, want %d", tt.counts, got, tt.want)
			}
		}
	}
}

func TestLeastConnectionsSpreadsTies(t *testing.T) {
	b := NewLeastConnections()
	loops, _ := newLoops(2, 1, 5, 1, 1)
	// Counts never change: the tied loops 1, 3 and 4 take exact turns.
	var got []int
	for range 9 {
		got = append(got, b.Pick(netip.AddrPort{}, loops))
	}
	want := []int{1, 3, 4, 1, 3, 4, 1, 3, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("picks %v, want %v", got, want)
		}
	}
}

func TestLeastConnectionsBalancesLoad(t *testing.T) {
	b := NewLeastConnections()
	loops, fakes := newLoops(0, 0, 0, 0)
	for range 400 {
		fakes[b.Pick(netip.AddrPort{}, loops)].n.Add(1)
	}
	for i, f := range fakes {
		if f.n.Load() != 100 {
			t.Errorf("loop %d got %d connections, want 100", i, f.n.Load())
		}
	}
	// A loop whose connections closed catches up first.
	fakes[2].n.Store(90)
	for range 10 {
		if got := b.Pick(netip.AddrPort{}, loops); got != 2 {
			t.Fatalf("got %d, want 2", got)
		}
		fakes[2].n.Add(1)
	}
}

func TestPickPanicsWithoutLoops(t *testing.T) {
	for name, b := range map[string]Balancer{
		"RoundRobin":       NewRoundRobin(),
		"LeastConnections": NewLeastConnections(),
		"SourceAddrHash":   NewSourceAddrHash(),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Pick with no loops did not panic", name)
				}
			}()
			b.Pick(netip.AddrPort{}, nil)
		}()
	}
}

func TestConcurrentPick(t *testing.T) {
	const goroutines, picks = 16, 1000
	loops, fakes := newLoops(0, 0, 0, 0)
	remote := netip.MustParseAddrPort("192.0.2.7:1")
	for name, b := range map[string]Balancer{
		"RoundRobin":       NewRoundRobin(),
		"LeastConnections": NewLeastConnections(),
		"SourceAddrHash":   NewSourceAddrHash(),
	} {
		t.Run(name, func(t *testing.T) {
			var counts [4]atomic.Int64
			var wg sync.WaitGroup
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range picks {
						i := b.Pick(remote, loops)
						counts[i].Add(1)
						fakes[i].n.Add(1) // loads change while others pick
					}
				}()
			}
			wg.Wait()
			total := int64(0)
			for i := range counts {
				total += counts[i].Load()
				fakes[i].n.Store(0)
			}
			if total != goroutines*picks {
				t.Fatalf("total picks %d", total)
			}
			if name == "RoundRobin" {
				for i := range counts {
					if got := counts[i].Load(); got != goroutines*picks/4 {
						t.Errorf("loop %d picked %d times, want %d", i, got, goroutines*picks/4)
					}
				}
			}
		})
	}
}

func TestPickNoAlloc(t *testing.T) {
	loops, _ := newLoops(3, 1, 1, 2)
	remote := netip.MustParseAddrPort("[2001:db8::1]:443")
	remote4 := netip.MustParseAddrPort("198.51.100.9:443")
	for name, b := range map[string]Balancer{
		"RoundRobin":       NewRoundRobin(),
		"LeastConnections": NewLeastConnections(),
		"SourceAddrHash":   NewSourceAddrHash(),
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			b.Pick(remote, loops)
			b.Pick(remote4, loops)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Pick pair, want 0", name, allocs)
		}
	}
}
