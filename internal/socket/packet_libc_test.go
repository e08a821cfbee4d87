//go:build darwin || openbsd

package socket

import (
	"net/netip"
	"testing"
)

// checkSendToVScratch has nothing to check here: SendToV copies into a
// byte buffer.
func checkSendToVScratch(t *testing.T, p *PacketIO, fd, family int, to netip.AddrPort) {}
