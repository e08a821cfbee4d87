package mill

import (
	"fmt"
	"strings"
)

// parseAddr splits "scheme://address" into a network and an address.
// Without a scheme the network is tcp.
func parseAddr(s string) (network, address string, err error) {
	network, address = "tcp", s
	if i := strings.Index(s, "://"); i >= 0 {
		network, address = strings.ToLower(s[:i]), s[i+3:]
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		if !strings.Contains(address, ":") {
			return "", "", fmt.Errorf("%w %q: want host:port", ErrInvalidAddress, s)
		}
	case "unix":
		if address == "" {
			return "", "", fmt.Errorf("%w %q: empty socket path", ErrInvalidAddress, s)
		}
	default:
		return "", "", fmt.Errorf("%w %q: unknown network %q", ErrInvalidAddress, s, network)
	}
	return network, address, nil
}
