//go:build linux

package reactor

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCPUAffinity(t *testing.T) {
	l := start(t, Config{Pin: true, CPU: 0})
	on(t, l, func() {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Error(err)
			return
		}
		if set.Count() != 1 || !set.IsSet(0) {
			t.Errorf("loop thread affinity: %d CPUs, CPU0 %v", set.Count(), set.IsSet(0))
		}
	})
}

// TestZeroConfigPinsNothing: a zero Config leaves the loop's thread free
// to run on every CPU the process may use (CPU 0 is not a default pin).
func TestZeroConfigPinsNothing(t *testing.T) {
	var want unix.CPUSet
	if err := unix.SchedGetaffinity(0, &want); err != nil {
		t.Fatal(err)
	}
	l := start(t, Config{})
	on(t, l, func() {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Error(err)
			return
		}
		if set.Count() != want.Count() {
			t.Errorf("loop thread may run on %d CPUs, the process on %d", set.Count(), want.Count())
		}
	})
	if _, err := New(Config{Pin: true, CPU: -1}); err == nil {
		t.Error("New accepted Pin with a negative CPU")
	}
}
