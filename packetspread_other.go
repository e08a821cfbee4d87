//go:build darwin || dragonfly || netbsd || openbsd

package mill

// packetSpread: SO_REUSEPORT here hands each datagram to one socket of
// the group rather than spreading them, so a UDP address gets one socket,
// served by the first loop.
const packetSpread = false
