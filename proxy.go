package mill

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultProxyHeaderTimeout bounds the arrival of a PROXY protocol
// header (see ProxyProtocol.Timeout).
const DefaultProxyHeaderTimeout = 5 * time.Second

// ProxyProtocol says how connections on an address begin with a PROXY
// protocol header (HAProxy's, versions 1 and 2), the way a load balancer
// in front of mill (HAProxy, Envoy, an AWS NLB, ...) tells the client's
// address. See WithProxyProtocol.
type ProxyProtocol struct {
	// Optional lets a trusted peer omit the header: its connection is then
	// served with its own addresses, as soon as its first bytes are not a
	// header's, or when Timeout passes without any (a protocol where the
	// server speaks first). By default the header is required.
	Optional bool
	// Trusted are the networks whose peers' headers are believed. A peer
	// outside them is refused at once (a header must never be believed
	// from anyone). Empty means loopback only (127.0.0.0/8 and ::1). Peers
	// on a Unix-domain socket are trusted: its file's permissions say who
	// may connect.
	Trusted []netip.Prefix
	// Timeout bounds the header's arrival, from the accept; a peer that
	// takes longer is closed with ErrProxyTimeout. Zero means
	// DefaultProxyHeaderTimeout.
	Timeout time.Duration
}

// WithProxyProtocol makes connections on addrs (written as they were to
// NewServer and WithAddrs; none: every stream address) begin with a
// PROXY protocol header, parsed on the loop as it arrives, before
// anything else: before the TLS handshake, on an address that has TLS
// too. Once it is whole, OnOpen runs, and RemoteAddr and LocalAddr report
// the client's and the address it connected to as the header says them
// (a LOCAL header, a balancer's health check, keeps the connection's
// own); Conn.Proxy returns the header, with its TLVs. Whatever followed
// the header in the same read reaches OnTraffic at once.
//
// A connection that cannot be believed or parsed closes without OnOpen
// or OnClose, counted in Stats.Proxy by cause, logged at most once a
// second: a peer outside p.Trusted (ErrProxyUntrusted), no header where
// one is required (ErrProxyMissing), an invalid one (ErrProxyHeader,
// wrapping the proxyproto package's error), one that does not arrive in
// time (ErrProxyTimeout).
func WithProxyProtocol(p ProxyProtocol, addrs ...string) Option {
	return optionFunc(func(o *options) {
		o.proxy = append(o.proxy, proxyAddrs{p: p, addrs: addrs})
	})
}

type proxyAddrs struct {
	p     ProxyProtocol
	addrs []string
}

// proxyPolicy is an address's ProxyProtocol, checked and with its
// defaults.
type proxyPolicy struct {
	optional bool
	trusted  []netip.Prefix
	timeout  time.Duration
}

var loopbackNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// trusts reports whether a header from a is to be believed. A peer on
// a Unix-domain socket (no address) is: who may connect is up to the
// socket file's permissions, and a balancer beside the server (HAProxy's
// unix@ servers, a sidecar) connects that way.
func (p *proxyPolicy) trusts(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.Unmap()
	for _, n := range p.trusted {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// validateProxy checks the PROXY protocol options against the server's
// addresses and returns each such address's policy.
func (o *options) validateProxy(addrs []string) (map[string]*proxyPolicy, error) {
	if len(o.proxy) == 0 {
		return nil, nil
	}
	if len(addrs) == 0 {
		return nil, errors.New("mill: WithProxyProtocol is for servers")
	}
	out := make(map[string]*proxyPolicy)
	for _, pa := range o.proxy {
		p := pa.p
		if p.Timeout < 0 {
			return nil, fmt.Errorf("mill: WithProxyProtocol: Timeout %v: want >= 0", p.Timeout)
		}
		pol := &proxyPolicy{optional: p.Optional, timeout: p.Timeout, trusted: loopbackNets}
		if pol.timeout == 0 {
			pol.timeout = DefaultProxyHeaderTimeout
		}
		if len(p.Trusted) > 0 {
			pol.trusted = nil
			for _, n := range p.Trusted {
				if !n.IsValid() {
					return nil, fmt.Errorf("mill: WithProxyProtocol: trusted network %v is not valid", n)
				}
				if n.Addr().Is4In6() && n.Bits() >= 96 { // ::ffff:a.b.c.d/n: the IPv4 network it means
					n = netip.PrefixFrom(n.Addr().Unmap(), n.Bits()-96)
				}
				pol.trusted = append(pol.trusted, n.Masked())
			}
		}
		list, err := streamAddrs("WithProxyProtocol", pa.addrs, addrs)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if out[a] != nil {
				return nil, fmt.Errorf("mill: WithProxyProtocol(..., %q): the address has a PROXY protocol policy already", a)
			}
			out[a] = pol
		}
	}
	return out, nil
}

var (
	// ErrProxyProtocol is matched (with errors.Is) by every error that
	// refuses a connection for its PROXY protocol header; the error also
	// matches its cause below.
	ErrProxyProtocol = errors.New("mill: PROXY protocol")
	// ErrProxyUntrusted refuses a peer outside the trusted networks.
	ErrProxyUntrusted = errors.New("mill: PROXY protocol header from an untrusted peer")
	// ErrProxyMissing refuses a connection without a header where one is
	// required.
	ErrProxyMissing = errors.New("mill: PROXY protocol header missing")
	// ErrProxyHeader refuses an invalid header; the error wraps the
	// proxyproto package's (proxyproto.ErrInvalidHeader,
	// ErrBadChecksum, ...).
	ErrProxyHeader = errors.New("mill: invalid PROXY protocol header")
	// ErrProxyTimeout refuses a connection whose header did not arrive
	// in time. Its Timeout method reports true.
	ErrProxyTimeout error = timeoutError("mill: PROXY protocol header timeout")
)

// proxyError wraps cause as the error of a refused connection: it
// matches ErrProxyProtocol and cause, and reads as cause does.
func proxyError(cause error) error { return proxyErr{cause} }

type proxyErr struct{ cause error }

func (e proxyErr) Error() string   { return e.cause.Error() }
func (e proxyErr) Unwrap() []error { return []error{ErrProxyProtocol, e.cause} }

// ProxyStats counts PROXY protocol headers.
type ProxyStats struct {
	Headers uint64        // headers accepted (LOCAL ones included)
	Local   uint64        // of those, LOCAL ones: a balancer's health checks, served with the connection's own addresses
	Absent  uint64        // connections from trusted peers without a header, where it is optional
	Failed  ProxyFailures // connections refused, by cause
}

// ProxyFailures counts connections refused for their PROXY protocol
// header, by cause. Every one also counts in CloseCounts.Proxy, except
// Untrusted's (refused at accept, never handed to a loop) and
// Shutdown's.
type ProxyFailures struct {
	Untrusted uint64 // the peer is outside the trusted networks (ErrProxyUntrusted)
	Missing   uint64 // no header where one is required (ErrProxyMissing)
	Invalid   uint64 // the header is invalid (ErrProxyHeader)
	Timeout   uint64 // the header did not arrive in time (ErrProxyTimeout)
	PeerGone  uint64 // the peer closed or reset the connection first
	Shutdown  uint64 // cut short by a shutdown
}

// Total is the number of refused connections.
func (f ProxyFailures) Total() uint64 {
	return f.Untrusted + f.Missing + f.Invalid + f.Timeout + f.PeerGone + f.Shutdown
}
