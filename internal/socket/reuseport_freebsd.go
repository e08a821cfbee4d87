//go:build freebsd

package socket

import "golang.org/x/sys/unix"

// FreeBSD's SO_REUSEPORT only lets sockets share a port (the last bound
// gets the traffic); SO_REUSEPORT_LB, new in FreeBSD 12, balances
// connections and datagrams among them as Linux does.
const reusePortOpt = unix.SO_REUSEPORT_LB
