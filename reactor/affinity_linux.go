//go:build linux

package reactor

import (
	"fmt"
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

// CheckCPU reports whether a loop could be pinned to cpu: it must be one
// of the CPUs this process may run on (its affinity mask, which a
// container or taskset may narrow).
func CheckCPU(cpu int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return os.NewSyscallError("sched_getaffinity", err)
	}
	if cpu < 0 || cpu >= len(set)*64 || !set.IsSet(cpu) {
		return fmt.Errorf("reactor: CPU %d is not one this process may run on (%d allowed)", cpu, set.Count())
	}
	return nil
}
