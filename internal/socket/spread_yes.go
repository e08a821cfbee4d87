//go:build linux || freebsd || dragonfly

package socket

// ReusePortSpreads: the kernel spreads connections and datagrams over
// the sockets sharing a port with SO_REUSEPORT (SO_REUSEPORT_LB on
// FreeBSD), so per-loop sockets each get a share.
const ReusePortSpreads = true
