//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"fmt"
	"net"

	"github.com/mill-io/mill/internal/socket"
)

// openEndpoints binds every address the server was given, for n loops
// (socket.OpenEndpoint does the work). On error whatever it opened is
// closed again.
func openEndpoints(addrs []string, o *options, n int) (eps []*socket.Endpoint, err error) {
	defer func() {
		if err != nil {
			closeEndpoints(eps)
			eps = nil
		}
	}()
	cfg := socket.EndpointConfig{Loops: n, PerLoop: o.reusePort, ReuseAddr: o.reuseAddr, BindToDevice: o.bindToDevice}
	for _, g := range o.multicast {
		cfg.Multicast = append(cfg.Multicast, socket.MulticastGroup{Group: g.group, Ifi: g.ifi})
	}
	for _, a := range addrs {
		network, address, err := parseAddr(a)
		if err != nil {
			return eps, err
		}
		ep, err := socket.OpenEndpoint(network, address, cfg)
		if err != nil {
			return eps, fmt.Errorf("mill: listen on %s: %w", a, err)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

func closeEndpoints(eps []*socket.Endpoint) {
	for _, ep := range eps {
		ep.Close()
	}
}

// addrs lists the bound addresses in the order given.
func (e *engine) addrs() []net.Addr {
	out := make([]net.Addr, len(e.eps))
	for i, ep := range e.eps {
		out[i] = ep.Addr
	}
	return out
}
