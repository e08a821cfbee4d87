// Command client is a TCP proxy built on both halves of mill's API: a
// mill.Server accepts connections, and for each a mill.Client dials the
// upstream; bytes are spliced both ways through the event loops, with
// backpressure, and half-closes (FIN) are passed on.
//
//	go run ./examples/echo &                  # an upstream on 127.0.0.1:9000
//	go run ./examples/client                  # the proxy on 127.0.0.1:9100
//	nc 127.0.0.1 9100                         # talk to the echo server through it
//
// Flags: -listen, -upstream, -loops, -dial-timeout, and -tls-cert with
// -tls-key or -tls-self-signed to terminate TLS: the proxy then serves
// TLS on -listen and speaks plaintext to the upstream (a SIGHUP reloads
// -tls-cert and -tls-key):
//
//	go run ./examples/client -tls-self-signed
//	openssl s_client -connect 127.0.0.1:9100 -quiet
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/examples/internal/tlsflag"
)

func main() {
	listen := flag.String("listen", "tcp://127.0.0.1:9100", "address to accept downstream connections on (host:port, or a tcp://, tcp6:// or unix:// URL)")
	upstreamAddr := flag.String("upstream", "127.0.0.1:9000", "address to dial for each connection (host:port, or a tcp://, tcp4://, tcp6:// or unix:// URL)")
	loops := flag.Int("loops", 0, "event loops on each side, server and client (0: one per CPU)")
	dialTimeout := flag.Duration("dial-timeout", 5*time.Second, "give up on an upstream connection attempt after this long")
	tlsFlags := tlsflag.Register(flag.CommandLine)
	flag.Parse()

	certs, err := tlsFlags.Load(nil) // nil when TLS is off
	if err != nil {
		log.Fatal(err)
	}
	p, err := newProxy(*listen, *upstreamAddr, *loops, *dialTimeout, certs.Config(), log.Default())
	if err != nil {
		log.Fatal(err)
	}
	if certs != nil {
		defer certs.ReloadOnSIGHUP()()
		log.Printf("terminating %s", certs.Describe())
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	log.Printf("proxy listening on %s, forwarding to %s://%s", p.server.Addr(), p.network, p.address)
	if err := p.serve(); !errors.Is(err, mill.ErrServerClosed) {
		log.Fatal(err)
	}
	// Serve returns once the server side is down; wait for the client side.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.client.Stop(ctx)
}
