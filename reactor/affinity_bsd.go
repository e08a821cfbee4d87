//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

import "errors"

// setAffinity is unavailable: macOS has no thread pinning, and the BSDs'
// cpuset calls are not wrapped by golang.org/x/sys. New refuses a CPU, so
// this is never reached.
func setAffinity(int) error { return errors.New("reactor: CPU affinity is supported on Linux only") }

const affinitySupported = false

// CheckCPU refuses every CPU: pinning is supported on Linux only.
func CheckCPU(cpu int) error { return setAffinity(cpu) }
