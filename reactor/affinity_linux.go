//go:build linux

package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// setAffinity pins the calling OS thread to cpu.
func setAffinity(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return os.NewSyscallError("sched_setaffinity", err)
	}
	return nil
}

const affinitySupported = true
