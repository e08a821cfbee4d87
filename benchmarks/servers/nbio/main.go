// Command nbio is an echo server on github.com/lesismal/nbio, the
// event-loop library whose TLS is a fork of crypto/tls
// (github.com/lesismal/llib/std/crypto/tls, from Go 1.16). With -tls each
// connection gets a non-blocking llib tls.Conn when it opens; the bytes
// nbio reads are appended to it and decrypted on the poller (handshake
// included, as nbio does it: the handshake runs on the poller goroutine
// too), and the plaintext is written back through the tls.Conn, whose
// records nbio's Conn.Write sends or queues. This is the shape of nbio's
// own nbhttp TLS path (Engine.TLSDataHandler): AppendAndRead into the read
// buffer, then ResetOrFreeBuffer so an idle connection keeps no input
// buffer. Without -tls it echoes plaintext.
//
// With -aes the fork prefers AES-GCM as crypto/tls does on this CPU (it
// never detects AES hardware by itself and negotiates ChaCha20-Poly1305
// with Go clients: see internal/llibaes); the benchmark runner passes it so
// that every contender runs the same cipher.
//
// -loops N sets the number of pollers (NPoller) and GOMAXPROCS (0: one
// poller per CPU and Go's default).
//
//	go run ./servers/nbio -addr 127.0.0.1:9443 -loops 1 -tls
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/mempool"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/llibaes"
	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "pollers and GOMAXPROCS (0 = one per CPU)")
	useTLS := flag.Bool("tls", false, "serve TLS echo (llib's crypto/tls fork)")
	var cert tlscert.Flags
	cert.Register(flag.CommandLine)
	aes := flag.Bool("aes", false, "with -tls: prefer AES-GCM as crypto/tls does on this CPU (llib never detects AES hardware; see internal/llibaes)")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	n := *loops
	if n > 0 {
		runtime.GOMAXPROCS(n)
	} else {
		n = runtime.NumCPU()
	}
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	if *aes && !llibaes.PreferAESGCM() {
		log.Print("-aes: this CPU has no AES-GCM hardware; the fork keeps preferring ChaCha20-Poly1305")
	}
	eng := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{*addr}, NPoller: n})
	if *useTLS {
		cfg, err := llibConfig(&cert)
		if err != nil {
			log.Fatal(err)
		}
		eng.OnOpen(func(c *nbio.Conn) {
			c.SetSession(tls.NewConn(c, cfg, false, true, mempool.DefaultMemPool))
		})
		eng.OnData(func(c *nbio.Conn, data []byte) {
			tc, ok := c.Session().(*tls.Conn)
			if !ok {
				_ = c.Close()
				return
			}
			defer tc.ResetOrFreeBuffer()
			in := data
			for {
				// The input is copied into the tls.Conn first, so data can
				// take the plaintext (as nbhttp does).
				_, n, err := tc.AppendAndRead(in, data)
				in = nil
				if err != nil {
					_ = c.CloseWithError(err)
					return
				}
				if n == 0 {
					return
				}
				if _, err := tc.Write(data[:n]); err != nil {
					_ = c.CloseWithError(err)
					return
				}
			}
		})
	} else {
		eng.OnData(func(c *nbio.Conn, data []byte) { _, _ = c.Write(data) })
	}
	if err := eng.Start(); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	eng.Stop()
	if err := cpuprof.Stop(); err != nil {
		log.Fatal(err)
	}
}

// llibConfig is a server configuration of llib's fork with the certificate
// of the -cert/-key flags and otherwise the fork's defaults (TLS 1.2 and
// 1.3, session tickets on).
func llibConfig(f *tlscert.Flags) (*tls.Config, error) {
	c, k, err := f.PEM()
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}
