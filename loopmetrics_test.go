//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestLoopMetrics: a handler that blocks its loop for 50 ms shows up in
// the lag histogram past 25 ms, and the loop's busy time covers it;
// without the option both stay empty.
func TestLoopMetrics(t *testing.T) {
	h := &funcHandler{traffic: func(c Conn) Action {
		c.Next(-1)
		time.Sleep(50 * time.Millisecond) // a handler that blocks: what the metric is for
		c.Write([]byte("done"))
		return None
	}}
	s := serve(t, h, "", WithLoops(1), WithLoopMetrics(5*time.Millisecond))
	waitFor(t, "probes", func() bool { return s.Stats().Total.Lag.Count >= 3 })
	c := dial(t, s)
	c.Write([]byte("x"))
	expectRead(t, c, []byte("done"))
	waitFor(t, "a late probe", func() bool {
		lag := s.Stats().Loops[0].Lag
		late := uint64(0)
		for i, b := range lag.Bounds {
			if b >= 25*time.Millisecond {
				late += lag.Counts[i+1]
			}
		}
		return late > 0
	})
	if st := s.Stats(); st.Loops[0].Busy < 50*time.Millisecond || st.Total.Lag.Count != st.Loops[0].Lag.Count {
		t.Errorf("busy %v (want at least the 50 ms blocked), lag %+v", st.Loops[0].Busy, st.Total.Lag)
	}

	quiet := serve(t, &echoHandler{}, "")
	if st := quiet.Stats().Total; st.Busy != 0 || st.Lag.Count != 0 || st.Lag.Bounds != nil {
		t.Errorf("without WithLoopMetrics: busy %v, lag %+v", st.Busy, st.Lag)
	}
}

// TestLoopProfileLabels: a loop's goroutine carries its index as a
// profile label, so a goroutine or CPU profile says which loop did what.
func TestLoopProfileLabels(t *testing.T) {
	serve(t, &echoHandler{}, "", WithLoops(2))
	var sb strings.Builder
	waitFor(t, "the loops' labels in a goroutine profile", func() bool {
		sb.Reset()
		pprof.Lookup("goroutine").WriteTo(&sb, 1)
		p := sb.String()
		return strings.Contains(p, `"mill.loop":"0"`) && strings.Contains(p, `"mill.loop":"1"`)
	})
}
