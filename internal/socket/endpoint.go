//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// An Endpoint is one address a server listens on, with the sockets that
// serve it. A stream address has either one shared listening socket (a
// server's main reactor accepts on it) or, with EndpointConfig.PerLoop
// where the kernel spreads connections over SO_REUSEPORT sockets
// (ReusePortSpreads), one socket per loop; a datagram address has one
// socket per loop where the kernel spreads datagrams, else (or with
// multicast groups) one socket, for the first loop.
type Endpoint struct {
	Network string
	Addr    net.Addr    // the bound address, port 0 resolved
	TCP     bool        // a TCP address: accepted connections take TCP options
	Shared  *Listener   // nil unless one socket is shared
	PerLoop []*Listener // indexed by loop; nil entries have none
}

// MulticastGroup is a group a datagram endpoint's sockets join.
type MulticastGroup struct {
	Group netip.Addr
	Ifi   *net.Interface // nil: the system's choice
}

// EndpointConfig says how to open an Endpoint.
type EndpointConfig struct {
	Loops        int  // how many loops would each take a socket
	PerLoop      bool // a stream address gets a socket per loop where the kernel spreads (WithReusePort)
	ReuseAddr    bool // SO_REUSEADDR on TCP listeners
	BindToDevice string
	Multicast    []MulticastGroup // datagram endpoints join these
}

// IsPacket reports whether network carries datagrams.
func IsPacket(network string) bool { return strings.HasPrefix(network, "udp") }

// OpenEndpoint binds network/address as cfg says. On error nothing it
// opened stays open.
func OpenEndpoint(network, address string, cfg EndpointConfig) (*Endpoint, error) {
	so := Options{ReuseAddr: cfg.ReuseAddr, BindToDevice: cfg.BindToDevice}
	n := cfg.Loops
	ep := &Endpoint{Network: network, TCP: network != "unix" && !IsPacket(network)}
	open := Listen
	perLoop := cfg.PerLoop && network != "unix" && ReusePortSpreads
	if IsPacket(network) {
		open = ListenPacket
		perLoop = true
		// SO_REUSEADDR on a UDP socket would let another socket bind the
		// port and take its datagrams; multicast receivers, though, share
		// their group's port by convention.
		so.ReuseAddr = len(cfg.Multicast) > 0
		// Every socket bound to a group's port receives each of the
		// group's datagrams: with one per loop, a handler would see each
		// datagram once per loop.
		if !ReusePortSpreads || len(cfg.Multicast) > 0 {
			n = 1
		}
	}
	if !perLoop {
		ln, err := open(network, address, so)
		if err != nil {
			return nil, err
		}
		ep.Shared, ep.Addr = ln, ln.Addr
		return ep, nil
	}
	so.ReusePort = n > 1
	ep.PerLoop = make([]*Listener, n)
	for i := range n {
		ln, err := open(network, address, so)
		if err != nil {
			ep.Close()
			return nil, err
		}
		ep.PerLoop[i] = ln
		if i == 0 {
			ep.Addr = ln.Addr
			// The other loops bind the same port, resolved if it was 0.
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				ep.Close()
				return nil, err
			}
			address = net.JoinHostPort(host, strconv.Itoa(portOf(ln.Addr)))
		}
	}
	if IsPacket(network) {
		for _, ln := range ep.PerLoop {
			for _, g := range cfg.Multicast {
				if err := JoinGroup(ln.Fd, ln.Family, g.Group, g.Ifi); err != nil {
					ep.Close()
					return nil, fmt.Errorf("join multicast group %s: %w", g.Group, err)
				}
			}
		}
	}
	return ep, nil
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

// Close closes every socket of ep that is still open (a nil slot is one
// already closed by its user).
func (ep *Endpoint) Close() error {
	var errs []error
	if ep.Shared != nil {
		errs = append(errs, ep.Shared.Close())
		ep.Shared = nil
	}
	for i, ln := range ep.PerLoop {
		if ln != nil {
			errs = append(errs, ln.Close())
			ep.PerLoop[i] = nil
		}
	}
	return errors.Join(errs...)
}
