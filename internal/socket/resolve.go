package socket

import (
	"context"
	"net"
	"net/netip"
	"strconv"
)

// ResolveDial turns a dial target into an address (tcp, tcp4, tcp6,
// udp, udp4, udp6 with host:port) or a path (unix), looking names and
// service ports up with net.DefaultResolver, bounded by ctx. An empty
// host is the loopback address; the first address the resolver returns
// is used.
func ResolveDial(ctx context.Context, network, address string) (netip.AddrPort, string, error) {
	switch network {
	case "unix":
		if address == "" {
			return netip.AddrPort{}, "", &net.AddrError{Err: "empty socket path", Addr: address}
		}
		return netip.AddrPort{}, address, nil
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return netip.AddrPort{}, "", net.UnknownNetworkError(network)
	}
	if ap, err := netip.ParseAddrPort(address); err == nil {
		return ap, "", nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, "", err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		n, lerr := net.DefaultResolver.LookupPort(ctx, network, port)
		if lerr != nil {
			return netip.AddrPort{}, "", lerr
		}
		p = uint64(n)
	}
	var ip netip.Addr
	switch {
	case host == "" && (network == "tcp6" || network == "udp6"):
		ip = netip.IPv6Loopback()
	case host == "":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if ip, err = netip.ParseAddr(host); err != nil {
			ipnet := "ip" + network[3:]
			ips, err := net.DefaultResolver.LookupNetIP(ctx, ipnet, host)
			if err != nil {
				return netip.AddrPort{}, "", err
			}
			if len(ips) == 0 {
				return netip.AddrPort{}, "", &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
			}
			ip = ips[0]
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), "", nil
}

// NeedsLookup reports whether ResolveDial would have to look a name or
// a service port up for address (and so may block).
func NeedsLookup(network, address string) bool {
	if network == "unix" {
		return false
	}
	if _, err := netip.ParseAddrPort(address); err == nil {
		return false
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return false // ResolveDial reports it
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" {
		return true
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return true
		}
	}
	return false
}
