package main

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// Config is what the command's flags set: the request limits and the
// server's defences.
type Config struct {
	Limits      http1.Limits
	Loops       int           // event loops (0: one per CPU)
	ReadTimeout time.Duration // a partial request waiting longer closes the connection (0: never)
	IdleTimeout time.Duration // a connection silent both ways this long closes (0: never)
	MaxConns    int           // most connections open at once (0: no cap)
	TLS         *tls.Config   // serve HTTPS with this (nil: plain HTTP)
	// Proxy, if not nil, makes every connection begin with a PROXY
	// protocol header (-proxy-protocol, -proxy-trust).
	Proxy *mill.ProxyProtocol
}

// ProxyConfig returns the PROXY protocol setting of the flags
// -proxy-protocol (required: on) and -proxy-trust (trust: a comma-separated
// list of networks, CIDR, or single addresses; empty: loopback only),
// or nil when it is off. -proxy-trust without -proxy-protocol is an
// error rather than silently ignored.
func ProxyConfig(required bool, trust string) (*mill.ProxyProtocol, error) {
	if !required {
		if strings.TrimSpace(trust) != "" {
			return nil, fmt.Errorf("-proxy-trust %q: needs -proxy-protocol", trust)
		}
		return nil, nil
	}
	p := &mill.ProxyProtocol{}
	for _, f := range strings.Split(trust, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("-proxy-trust: %q is not a network (CIDR, such as 10.0.0.0/8) or an address", f)
			}
			n = netip.PrefixFrom(a, a.BitLen())
		}
		p.Trusted = append(p.Trusted, n)
	}
	if len(p.Trusted) == 0 && strings.TrimSpace(trust) != "" {
		return nil, fmt.Errorf("-proxy-trust %q: no network", trust)
	}
	return p, nil
}

// DefaultConfig holds the flags' defaults: on by default, so that
// slowloris clients, idle connections and connection floods cannot pin
// the server's memory for ever.
var DefaultConfig = Config{ReadTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxConns: 10000}

// slack is what the inbound limit allows past the largest request: one
// read's worth of the next requests (mill reads at most
// mill.DefaultReadBufferCap at a time), twice over.
const slack = 2 * mill.DefaultReadBufferCap

// InboundLimit is the most unread input a connection may buffer: the
// largest request the limits accept, plus slack. Past it mill stops
// reading, and would close a connection whose handler consumes nothing;
// the parser refuses any request that large (413, 414, 431) first.
func (cfg Config) InboundLimit() int { return cfg.Limits.MaxRequest() + slack }

// OutboundLimit is the most output a connection may queue: serve stops
// answering once the queue passes the high watermark, so the queue can
// hold at most that, a batch of flushAt, and the response that ends it,
// which may echo a body of MaxBody. (A client that never reads costs
// about the high watermark: see docs/robustness.md.)
func (cfg Config) OutboundLimit() int {
	lim := cfg.Limits.WithDefaults()
	return max(mill.DefaultOutboundLimit, mill.DefaultHighWatermark+flushAt+lim.MaxBody+lim.MaxHead+slack)
}

// options returns the mill options for cfg.
func (cfg Config) options() []mill.Option {
	opts := []mill.Option{
		mill.WithLoops(cfg.Loops),
		mill.WithTicker(true), // the Date header
		mill.WithInboundLimit(cfg.InboundLimit()),
		mill.WithOutboundLimit(cfg.OutboundLimit(), mill.CloseSlowConsumer),
		mill.WithReadTimeout(cfg.ReadTimeout),
		mill.WithIdleTimeout(cfg.IdleTimeout),
		mill.WithMaxConns(cfg.MaxConns),
	}
	if cfg.TLS != nil {
		opts = append(opts, mill.WithTLS(cfg.TLS))
	}
	if cfg.Proxy != nil {
		opts = append(opts, mill.WithProxyProtocol(*cfg.Proxy))
	}
	return opts
}
