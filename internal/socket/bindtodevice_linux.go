//go:build linux

package socket

import (
	"os"

	"golang.org/x/sys/unix"
)

// bindToDevice sets SO_BINDTODEVICE. Kernels before 5.7 want CAP_NET_RAW
// for it and fail with EPERM otherwise.
func bindToDevice(fd int, ifname string) error {
	return os.NewSyscallError("setsockopt", unix.BindToDevice(fd, ifname))
}
