//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/mill-io/mill/internal/socket"
)

// An endpoint is one address the server listens on, with the sockets
// that serve it. A stream address has either one shared listening socket,
// accepted on by the main reactor, or (WithReusePort, where the kernel
// spreads connections over SO_REUSEPORT sockets) one socket per loop; a
// datagram address has one socket per loop where the kernel spreads
// datagrams, else (or with multicast groups) one socket on the first
// loop.
type endpoint struct {
	network string
	addr    net.Addr           // the bound address, port 0 resolved
	tcp     bool               // TCP: set the TCP socket options on accepted conns
	shared  *socket.Listener   // nil unless the main reactor accepts
	perLoop []*socket.Listener // indexed by loop; nil entries have none
}

// openEndpoints binds every address the server was given, for n loops.
// On error whatever it opened is closed again.
func openEndpoints(addrs []string, o *options, n int) (eps []*endpoint, err error) {
	defer func() {
		if err != nil {
			closeEndpoints(eps)
			eps = nil
		}
	}()
	for _, a := range addrs {
		network, address, err := parseAddr(a)
		if err != nil {
			return eps, err
		}
		ep, err := openEndpoint(network, address, o, n)
		if err != nil {
			return eps, fmt.Errorf("mill: listen on %s: %w", a, err)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

func openEndpoint(network, address string, o *options, n int) (*endpoint, error) {
	so := socket.Options{ReuseAddr: o.reuseAddr, BindToDevice: o.bindToDevice}
	ep := &endpoint{network: network, tcp: network != "unix" && !isPacket(network)}
	open := socket.Listen
	perLoop := o.reusePort && network != "unix" && reusePortSpreads
	if isPacket(network) {
		open = socket.ListenPacket
		perLoop = true
		// SO_REUSEADDR on a UDP socket would let another socket bind the
		// port and take its datagrams; multicast receivers, though, share
		// their group's port by convention.
		so.ReuseAddr = len(o.multicast) > 0
		// Every socket bound to a group's port receives each of the
		// group's datagrams: with one per loop, OnTraffic would see each
		// datagram once per loop.
		if !reusePortSpreads || len(o.multicast) > 0 {
			n = 1
		}
	}
	if !perLoop {
		ln, err := open(network, address, so)
		if err != nil {
			return nil, err
		}
		ep.shared, ep.addr = ln, ln.Addr
		return ep, nil
	}
	so.ReusePort = n > 1
	ep.perLoop = make([]*socket.Listener, n)
	for i := range n {
		ln, err := open(network, address, so)
		if err != nil {
			ep.close()
			return nil, err
		}
		ep.perLoop[i] = ln
		if i == 0 {
			ep.addr = ln.Addr
			// The other loops bind the same port, resolved if it was 0.
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				ep.close()
				return nil, err
			}
			address = net.JoinHostPort(host, strconv.Itoa(portOf(ln.Addr)))
		}
	}
	if isPacket(network) {
		for _, ln := range ep.perLoop {
			for _, g := range o.multicast {
				if err := socket.JoinGroup(ln.Fd, ln.Family, g.group, g.ifi); err != nil {
					ep.close()
					return nil, fmt.Errorf("join multicast group %s: %w", g.group, err)
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

// close closes every socket of ep that is still open. Serve's goroutine,
// once no loop uses them, or NewServer's on failure.
func (ep *endpoint) close() error {
	var errs []error
	if ep.shared != nil {
		errs = append(errs, ep.shared.Close())
		ep.shared = nil
	}
	for i, ln := range ep.perLoop {
		if ln != nil {
			errs = append(errs, ln.Close())
			ep.perLoop[i] = nil
		}
	}
	return errors.Join(errs...)
}

func closeEndpoints(eps []*endpoint) {
	for _, ep := range eps {
		ep.close()
	}
}

// addrs lists the bound addresses in the order given.
func (e *engine) addrs() []net.Addr {
	out := make([]net.Addr, len(e.eps))
	for i, ep := range e.eps {
		out[i] = ep.addr
	}
	return out
}
