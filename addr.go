package mill

import (
	"fmt"
	"strings"
)

// streamAddrs checks the addresses an option (named opt) applies to,
// list, against the server's, addrs (inherited sockets' names among
// them): each must be one of them, written the same way, once, and a
// stream address. With list empty, it is every stream address: every
// name that is not a UDP address (one that is no address at all can only
// be an inherited socket's, and those are all stream sockets).
func streamAddrs(opt string, list, addrs []string) ([]string, error) {
	if len(list) == 0 {
		for _, a := range addrs {
			if network, _, err := parseAddr(a); err != nil || !strings.HasPrefix(network, "udp") {
				list = append(list, a)
			}
		}
	}
	for _, a := range list {
		known := 0
		for _, b := range addrs {
			if a == b {
				known++
			}
		}
		network, _, err := parseAddr(a)
		switch {
		case known > 1:
			return nil, fmt.Errorf("mill: %s(..., %q): the server has that address more than once; write them apart (tcp:// and tcp4://, say)", opt, a)
		case known == 0:
			return nil, fmt.Errorf("mill: %s(..., %q): not one of the server's addresses %q", opt, a, addrs)
		case err == nil && strings.HasPrefix(network, "udp"):
			return nil, fmt.Errorf("mill: %s(..., %q): for stream addresses, not UDP", opt, a)
		}
	}
	return list, nil
}

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
