//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// BSD socket addresses start with their length, then a one-byte family.

func initInet4(sa *unix.RawSockaddrInet4) {
	sa.Len = unix.SizeofSockaddrInet4
	sa.Family = unix.AF_INET
}

func initInet6(sa *unix.RawSockaddrInet6) {
	sa.Len = unix.SizeofSockaddrInet6
	sa.Family = unix.AF_INET6
}
