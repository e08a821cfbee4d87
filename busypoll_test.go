//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"syscall"
	"testing"
	"time"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A busy-polling server serves as usual, spins while traffic flows, and
// goes back to sleep once traffic stops.
func TestBusyPollSpinsThenSleeps(t *testing.T) {
	s := serve(t, &echoHandler{}, "", WithLoops(2), WithBusyPoll(250*time.Millisecond))
	c := dial(t, s)
	for i := 0; i < 100; i++ {
		c.Write([]byte("ping"))
		expectRead(t, c, []byte("ping"))
	}
	// Within the window the loop spins, so waiting costs the process CPU
	// (most of the time waited, on an unloaded machine)...
	before := processCPU()
	time.Sleep(150 * time.Millisecond)
	if cpu := processCPU() - before; cpu < 30*time.Millisecond {
		t.Errorf("%v of CPU in the 150 ms after traffic: the loop is not busy polling", cpu)
	}
	// ...and once it has passed, nothing.
	time.Sleep(150 * time.Millisecond)
	before = processCPU()
	time.Sleep(300 * time.Millisecond)
	if cpu := processCPU() - before; cpu > 100*time.Millisecond {
		t.Errorf("%v of CPU in 300 ms without traffic: the loop is still spinning", cpu)
	}
	c.Write([]byte("again"))
	expectRead(t, c, []byte("again"))
}
