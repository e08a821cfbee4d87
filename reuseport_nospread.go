//go:build darwin || netbsd || openbsd

package mill

// reusePortSpreads: SO_REUSEPORT here lets sockets share a port but hands
// each connection or unicast datagram to one of them rather than
// spreading them, so mill keeps one socket per address: TCP accepted by
// the main reactor, UDP served by the first loop.
const reusePortSpreads = false
