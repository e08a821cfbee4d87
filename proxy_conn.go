//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/mill-io/mill/proxyproto"
	"github.com/mill-io/mill/reactor"
)

// A connection on an address with WithProxyProtocol: admit refuses a
// peer outside the trusted networks before it reaches a loop; open
// registers the rest and calls beginProxy (lifeProxy, the header timer
// starts); proxyRead gathers the first bytes until proxyproto.Parse
// says they hold a header, or none, or a bad one; proxyDone then takes
// the addresses from the header and moves on — to the TLS handshake
// (handing it what followed the header) or to OnOpen (delivering it).

// proxySession is a conn's PROXY protocol state.
type proxySession struct {
	pol   *proxyPolicy
	buf   []byte // the bytes so far, until the header is whole
	timer *reactor.Timer
	hdr   proxyproto.Header // once read (Clone: it owns its bytes)
	local netip.AddrPort    // the header's destination, if it has addresses
}

// attachProxy makes c read a PROXY header first, before anyone but the
// goroutine making it has seen it. Any goroutine.
func (c *conn) attachProxy(pol *proxyPolicy) {
	c.slowPart().proxy = &proxySession{pol: pol}
	c.markProxyPending()
}

// beginProxy starts waiting for the header of a registered conn. Loop
// goroutine.
func (c *conn) beginProxy() {
	p := c.slow.proxy
	c.markProxyWait()
	p.timer = c.loop.loop.AfterFunc(p.pol.timeout, func() {
		p.timer = nil
		if p.pol.optional {
			// Nothing came (a client of a protocol where the server
			// speaks first), or bytes that start like a signature and
			// stopped: where the header is optional, it is absent, and
			// they are the client's.
			c.loop.e.proxy.absent.Add(1)
			c.proxyDone(p.buf)
			return
		}
		c.closeNow(proxyError(ErrProxyTimeout))
	})
}

// proxyRead reads the connection's first bytes until they tell. Loop
// goroutine.
func (c *conn) proxyRead() {
	p := c.slow.proxy
	l := c.loop
	n, err := c.readBeforeOpen()
	switch {
	case err == io.EOF:
		c.closeNow(proxyError(io.ErrUnexpectedEOF))
		return
	case err != nil:
		c.closeNow(proxyError(err))
		return
	case n == 0:
		return
	}
	p.buf = append(p.buf, l.readBuf[:n]...)
	h, used, err := proxyproto.Parse(p.buf)
	k := &l.e.proxy
	switch {
	case err == nil && used == 0:
		// A header's beginning: more to come (Parse bounds its length).
	case errors.Is(err, proxyproto.ErrNoHeader):
		if !p.pol.optional {
			c.closeNow(proxyError(ErrProxyMissing))
			return
		}
		k.absent.Add(1)
		c.proxyDone(p.buf)
	case err != nil:
		c.closeNow(proxyError(fmt.Errorf("%w: %w", ErrProxyHeader, err)))
	default:
		k.headers.Add(1)
		if h.Command == proxyproto.Local {
			k.local.Add(1)
		}
		p.hdr = h.Clone()
		if src, dst, ok := p.hdr.Addrs(); ok {
			c.remote = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			p.local = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
		}
		c.shared.set(sharedProxied)
		c.proxyDone(p.buf[used:])
	}
}

// proxyDone moves a conn whose header was read (or was optional and
// absent) on, with rest, the bytes that followed it: to the TLS
// handshake, or to OnOpen and then OnTraffic. Loop goroutine.
func (c *conn) proxyDone(rest []byte) {
	p := c.slow.proxy
	p.stopTimer(c)
	p.buf = nil
	c.markProxyDone()
	if c.isTLS() {
		c.beginTLS()
		if len(rest) > 0 && !c.closed() {
			c.handshakeInput(rest)
		}
		return
	}
	c.loop.start(c)
	c.updateInterest()
	if len(rest) > 0 && !c.closed() && !c.lingering() {
		c.in.Write(rest)
		if !c.readStopped() {
			c.deliver(0) // what came with the header: no readiness event will tell of it
		}
	}
}

func (p *proxySession) stopTimer(c *conn) {
	if p.timer != nil {
		c.loop.loop.StopTimer(p.timer)
		p.timer = nil
	}
}

// closingProxy is closeNow's part for a conn still awaiting its header:
// the refusal is counted, and logged at most once a second. Loop
// goroutine.
func (c *conn) closingProxy(err error) {
	p := c.slow.proxy
	p.stopTimer(c)
	c.loop.e.proxy.record(c.loop.log, c.RemoteAddr(), err)
}

// Proxy returns the connection's PROXY protocol header. Any goroutine.
func (c *conn) Proxy() (proxyproto.Header, bool) {
	if !c.shared.proxied() {
		return proxyproto.Header{}, false
	}
	return c.slow.proxy.hdr, true
}

// proxyLocal is the address the client connected to, as the header
// says it, if it says it. Any goroutine.
func (c *conn) proxyLocal() (net.Addr, bool) {
	if !c.shared.proxied() {
		return nil, false
	}
	if a := c.slow.proxy.local; a.IsValid() {
		return net.TCPAddrFromAddrPort(a), true
	}
	return nil, false
}

// proxyCounters are a server's PROXY protocol counters.
type proxyCounters struct {
	headers, local, absent atomic.Uint64
	failed                 [numProxyFailures]atomic.Uint64
	logLimit               rateLimit
}

type proxyFailure int

const (
	proxyFailUntrusted proxyFailure = iota
	proxyFailMissing
	proxyFailInvalid
	proxyFailTimeout
	proxyFailPeerGone
	proxyFailShutdown
	numProxyFailures
)

func proxyFailureOf(err error) proxyFailure {
	var errno syscall.Errno
	switch {
	case errors.Is(err, ErrProxyUntrusted):
		return proxyFailUntrusted
	case errors.Is(err, ErrProxyMissing):
		return proxyFailMissing
	case errors.Is(err, ErrProxyHeader):
		return proxyFailInvalid
	case errors.Is(err, ErrProxyTimeout):
		return proxyFailTimeout
	case errors.Is(err, ErrServerClosed):
		return proxyFailShutdown
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &errno):
		return proxyFailPeerGone
	}
	return proxyFailInvalid
}

// record counts a refused connection and logs it, at most once a
// second. Any goroutine.
func (k *proxyCounters) record(log *zap.Logger, remote net.Addr, err error) {
	f := proxyFailureOf(err)
	k.failed[f].Add(1)
	if f == proxyFailShutdown {
		return
	}
	if ok, dropped := k.logLimit.allow(); ok {
		log.Warn("PROXY protocol: connection refused", zap.Stringer("remote", remote), zap.Error(err),
			zap.Uint64("alsoSinceLastLog", dropped))
	}
}

func (k *proxyCounters) stats() ProxyStats {
	f := &k.failed
	return ProxyStats{
		Headers: k.headers.Load(), Local: k.local.Load(), Absent: k.absent.Load(),
		Failed: ProxyFailures{
			Untrusted: f[proxyFailUntrusted].Load(), Missing: f[proxyFailMissing].Load(),
			Invalid: f[proxyFailInvalid].Load(), Timeout: f[proxyFailTimeout].Load(),
			PeerGone: f[proxyFailPeerGone].Load(), Shutdown: f[proxyFailShutdown].Load(),
		},
	}
}
