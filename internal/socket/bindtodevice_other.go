//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import (
	"fmt"
	"runtime"
)

// bindToDevice fails: only Linux has SO_BINDTODEVICE. (macOS's IP_BOUND_IF
// and the BSDs' SO_SETFIB are different things and are not emulated.)
func bindToDevice(fd int, ifname string) error {
	return fmt.Errorf("socket: BindToDevice(%q) is not supported on %s", ifname, runtime.GOOS)
}
