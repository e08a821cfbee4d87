//go:build linux

package socket

import "golang.org/x/sys/unix"

// Linux socket addresses carry no length byte; the family is a uint16.

func initInet4(sa *unix.RawSockaddrInet4) { sa.Family = unix.AF_INET }

func initInet6(sa *unix.RawSockaddrInet6) { sa.Family = unix.AF_INET6 }
