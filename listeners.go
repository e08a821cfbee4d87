//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"

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

// closeEndpoints closes what is left of the server's sockets, under
// lnMu (ListenerFiles reads them from any goroutine).
func (e *engine) closeEndpoints() {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	closeEndpoints(e.eps)
}

// addrs lists the bound addresses in the order given.
func (e *engine) addrs() []net.Addr {
	out := make([]net.Addr, len(e.eps))
	for i, ep := range e.eps {
		out[i] = ep.Addr
	}
	return out
}

// allAddrs is the server's addresses followed by the names of the
// sockets it inherits (one per address: per-loop sockets share one),
// which must not repeat one another.
func allAddrs(addrs []string, inherited []inheritedFD) ([]string, error) {
	all := append([]string(nil), addrs...)
	seen := make(map[string]bool)
	for _, a := range addrs {
		seen[a] = true
	}
	bases := make(map[string]bool)
	for _, in := range inherited {
		base, _, _, _ := loopSocketName(in.name)
		if bases[base] {
			continue
		}
		if seen[base] {
			return nil, fmt.Errorf("mill: %s: %q is already one of the server's addresses", in.from, base)
		}
		bases[base] = true
		all = append(all, base)
	}
	return all, nil
}

// adoptEndpoints takes over the inherited sockets as endpoints, in the
// order of their names' first appearance: a plain name is an endpoint
// with one shared socket; names base#i/n make one endpoint with per-loop
// sockets, in order of i. On error nothing adopted stays open.
func adoptEndpoints(inherited []inheritedFD) (eps []*socket.Endpoint, err error) {
	defer func() {
		if err != nil {
			closeEndpoints(eps)
			eps = nil
		}
	}()
	byBase := make(map[string]*socket.Endpoint)
	loopOf := make(map[*socket.Listener]int)
	groupOf := make(map[*socket.Endpoint]int) // a per-loop group's n
	for _, in := range inherited {
		base, i, n, perLoop := loopSocketName(in.name)
		ln, err := socket.Adopt(in.fd)
		if err != nil {
			return eps, fmt.Errorf("mill: %s(%q): %w", in.from, in.name, err)
		}
		ep := byBase[base]
		switch {
		case ep == nil:
			ep = &socket.Endpoint{Network: ln.Network(), Addr: ln.Addr, TCP: ln.Network() != "unix"}
			byBase[base] = ep
			groupOf[ep] = n
			eps = append(eps, ep)
		case ep.Shared != nil || !perLoop:
			ln.Close()
			return eps, fmt.Errorf("mill: %s(%q): the name comes twice", in.from, in.name)
		case groupOf[ep] != n || ln.Addr.String() != ep.Addr.String():
			ln.Close()
			return eps, fmt.Errorf("mill: %s(%q): not of one group with %s's other sockets (%d of them, on %s)",
				in.from, in.name, base, groupOf[ep], ep.Addr)
		}
		for _, other := range ep.PerLoop {
			if loopOf[other] == i && perLoop {
				ln.Close()
				return eps, fmt.Errorf("mill: %s(%q): the name comes twice", in.from, in.name)
			}
		}
		if !perLoop {
			ep.Shared = ln
			continue
		}
		loopOf[ln] = i
		ep.PerLoop = append(ep.PerLoop, ln)
		sort.SliceStable(ep.PerLoop, func(a, b int) bool { return loopOf[ep.PerLoop[a]] < loopOf[ep.PerLoop[b]] })
	}
	return eps, nil
}

// ListenerFiles returns duplicates of the server's listening stream
// sockets, for a successor to serve (WithListenerFiles in a re-executed
// process, tableflip's Fds.AddFile, systemd's file descriptor store):
// named as WithListenerFiles expects, each address as it was written to
// NewServer or WithAddrs (or the name it was inherited under), and
// per-loop SO_REUSEPORT sockets as address#i/n. A socket stays open, and
// its accept queue with it, as long as one process holds it, so a
// successor that serves these loses none of the connections waiting
// there when this server shuts down. Close the files once handed on.
// A server without stream sockets has none to give. Any goroutine; once
// the server has shut down its sockets are gone and ListenerFiles
// returns ErrServerClosed.
func (s *Server) ListenerFiles() ([]*os.File, error) {
	return s.eng.listenerFiles()
}

func (e *engine) listenerFiles() ([]*os.File, error) {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	var out []*os.File
	fail := func(err error) ([]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	for i, ep := range e.eps {
		if !ep.TCP && ep.Network != "unix" {
			continue // UDP
		}
		type named struct {
			ln   *socket.Listener
			name string
		}
		var lns []named
		if ep.Shared != nil {
			lns = append(lns, named{ep.Shared, e.names[i]})
		}
		for j, ln := range ep.PerLoop {
			if ln != nil {
				lns = append(lns, named{ln, e.names[i] + "#" + strconv.Itoa(j) + "/" + strconv.Itoa(len(ep.PerLoop))})
			}
		}
		if len(lns) == 0 {
			return fail(ErrServerClosed)
		}
		for _, n := range lns {
			fd, err := n.ln.Dup()
			if err != nil {
				return fail(err)
			}
			out = append(out, os.NewFile(uintptr(fd), n.name))
		}
	}
	return out, nil
}
