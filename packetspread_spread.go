//go:build linux || freebsd

package mill

// packetSpread: the kernel spreads datagrams over SO_REUSEPORT sockets
// (on FreeBSD, SO_REUSEPORT_LB), so each loop gets a UDP socket.
const packetSpread = true
