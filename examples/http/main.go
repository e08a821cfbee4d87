// Command http is an HTTP/1.1 server on mill: the request parser of
// package http1 (a mill codec, one request per frame) run by OnTraffic
// over all buffered input at once, keep-alive, pipelining,
// Content-Length and chunked bodies, and the limits and status codes of
// RFC 9110 and RFC 9112.
//
//	go run ./examples/http -addr 127.0.0.1:8080 -loops 0
//
// Routes: GET/HEAD /plaintext and /json (the TechEmpower tests),
// POST /echo, which answers with the request body, and GET/HEAD /ip, the
// client's IP address as mill sees it. See README.md.
//
// Behind a load balancer that sends the PROXY protocol (HAProxy's
// send-proxy or send-proxy-v2, Envoy, an AWS NLB), -proxy-protocol
// requires the header, and -proxy-trust names the balancers' networks
// (loopback when not given):
//
//	go run ./examples/http -proxy-protocol -proxy-trust 10.0.0.0/8
//	curl --haproxy-protocol http://127.0.0.1:8080/ip
//
// With -tls-self-signed (or -tls-cert and -tls-key) it serves HTTPS on
// the address instead (HTTP/1.1 only, ALPN "http/1.1"); a SIGHUP reloads
// -tls-cert and -tls-key without a restart:
//
//	go run ./examples/http -tls-self-signed
//	curl -k https://127.0.0.1:8080/plaintext
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
	"github.com/mill-io/mill/http1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	maxTarget := flag.Int("max-target", http1.DefaultLimits.MaxTarget, "longest request-target in bytes (longer: 414)")
	maxHead := flag.Int("max-head", http1.DefaultLimits.MaxHead, "largest header section in bytes (larger: 431)")
	maxBody := flag.Int("max-body", http1.DefaultLimits.MaxBody, "largest request body in bytes (larger: 413)")
	cfg := DefaultConfig
	flag.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "close a connection whose partial request waits this long (0: never)")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close a connection silent both ways this long (0: never)")
	flag.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "most connections open at once; more are closed at once (0: no cap)")
	proxyOn := flag.Bool("proxy-protocol", false, "require a PROXY protocol header (v1 or v2) first on every connection, from a trusted network")
	proxyTrust := flag.String("proxy-trust", "", "networks a PROXY header is believed from, CIDR[,CIDR...] (default: loopback); others are refused")
	drainDelay := flag.Duration("drain-delay", 0, "on SIGTERM, answer GET /health with 503 for this long, still serving, before stopping accepting")
	tlsFlags := tlsflag.Register(flag.CommandLine)
	flag.Parse()

	proxy, err := ProxyConfig(*proxyOn, *proxyTrust)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Proxy = proxy

	// ALPN: HTTP/1.1 is all this server speaks, so a client offering h2
	// and http/1.1 (curl, browsers) settles on http/1.1.
	certs, err := tlsFlags.Load(nil, "http/1.1")
	if err != nil {
		log.Fatal(err)
	}
	cfg.TLS = certs.Config()
	cfg.Loops = *loops
	cfg.Limits = http1.Limits{MaxTarget: *maxTarget, MaxHead: *maxHead, MaxBody: *maxBody}
	h := newServer(cfg.Limits)
	s, err := mill.NewServer(h, *addr, cfg.options()...)
	if err != nil {
		log.Fatal(err)
	}
	h.ready = s.IsReady
	if certs != nil {
		defer certs.ReloadOnSIGHUP()()
		log.Printf("serving %s", certs.Describe())
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		// Not ready first (GET /health answers 503), so that a balancer
		// stops sending; then, after -drain-delay, stop accepting: serve
		// what is queued, and drain.
		s.MarkNotReady()
		time.Sleep(*drainDelay)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.HandOff(ctx)
	}()
	log.Printf("http server listening on %s (inbound limit %d, outbound limit %d bytes per connection)",
		s.Addr(), cfg.InboundLimit(), cfg.OutboundLimit())
	if err := s.Serve(); err != mill.ErrServerClosed {
		log.Fatal(err)
	}
}
