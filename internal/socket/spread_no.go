//go:build darwin || netbsd || openbsd

package socket

// ReusePortSpreads: SO_REUSEPORT here lets sockets share a port but hands
// each connection or unicast datagram to one of them rather than
// spreading them, so a server keeps one socket per address.
const ReusePortSpreads = false
