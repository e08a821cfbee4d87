//go:build linux

package reactor

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCPUAffinity(t *testing.T) {
	l := start(t, Config{CPU: 0})
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
