//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	h := &panicky{closes: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(2), WithIdleTimeout(300*time.Millisecond), WithMaxConns(4))
	a, b := dial(t, s), dial(t, s)
	for i := 0; i < 10; i++ {
		a.Write([]byte("hello"))
		expectRead(t, a, []byte("hello"))
	}
	b.Write([]byte("traffic")) // panics: closed with ErrHandlerPanic
	c := dial(t, s)
	c.Write([]byte("close")) // closed by the handler: clean (its OnClose panic is logged only)
	waitFor(t, "two closes", func() bool { return s.Stats().Total.Closed.Total() == 2 })
	d := dial(t, s)
	_ = d // left idle: closed by the idle timeout
	waitFor(t, "idle timeout", func() bool { return s.Stats().Total.Closed.IdleTimeout >= 1 })
	st := s.Stats()
	tot := st.Total
	if len(st.Loops) != 2 {
		t.Fatalf("%d loop stats", len(st.Loops))
	}
	if tot.Accepted != 4 || tot.Closed.Panic != 1 || tot.Closed.Clean != 1 {
		t.Fatalf("accepted %d, closed %+v", tot.Accepted, tot.Closed)
	}
	if tot.BytesIn < 50+7+5 || tot.BytesOut < 50 || tot.Reads < 12 || tot.Writes < 10 {
		t.Fatalf("traffic counters %+v", tot)
	}
	if want := int64(tot.Accepted - tot.Closed.Total()); tot.Open != want {
		t.Fatalf("open %d, want accepted-closed = %d", tot.Open, want)
	}
	// Over the cap: refused and counted.
	for i := 0; i < 6; i++ {
		dial(t, s)
	}
	waitFor(t, "refusals", func() bool { return s.Stats().Refused > 0 })
}
