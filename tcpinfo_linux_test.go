//go:build linux

package mill

import "golang.org/x/sys/unix"

// canSeeFIN says whether finArrived works here.
const canSeeFIN = true

// finArrived reports whether the kernel has received the peer's FIN on
// fd (the socket is in CLOSE_WAIT), whether or not mill has read it.
func finArrived(fd int) bool {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	return err == nil && ti.State == unix.BPF_TCP_CLOSE_WAIT
}
