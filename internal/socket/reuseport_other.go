//go:build darwin || dragonfly || linux || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// reusePortOpt is the option Options.ReusePort sets.
const reusePortOpt = unix.SO_REUSEPORT
