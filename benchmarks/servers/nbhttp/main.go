// Command nbhttp is the HTTP server of github.com/lesismal/nbio (nbhttp)
// serving GET /plaintext (internal/plaintext: the header fields and body of
// examples/http), with nbio's default settings: non-blocking I/O on
// pollers, request parsing on the poller, handlers run on nbio's goroutine
// pool. With -tls it serves HTTPS through llib's crypto/tls fork
// (Config.AddrsTLS; certificate from -cert/-key, or a self-signed ECDSA
// P-256 one).
//
// With -aes the fork prefers AES-GCM as crypto/tls does on this CPU (it
// never detects AES hardware by itself and negotiates ChaCha20-Poly1305
// with Go clients: see internal/llibaes); the benchmark runner passes it so
// that every contender runs the same cipher.
//
// -loops N sets the number of pollers (NPoller) and GOMAXPROCS (0: one
// poller per CPU and Go's default).
//
//	go run ./servers/nbhttp -addr 127.0.0.1:8443 -loops 1 -tls
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/llibaes"
	"github.com/mill-io/mill/benchmarks/internal/plaintext"
	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address host:port")
	loops := flag.Int("loops", 0, "pollers and GOMAXPROCS (0 = one per CPU)")
	useTLS := flag.Bool("tls", false, "serve HTTPS (llib's crypto/tls fork)")
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
	conf := nbhttp.Config{Network: "tcp", NPoller: n, Handler: http.HandlerFunc(plaintext.Handler)}
	if *useTLS {
		c, k, err := cert.PEM()
		if err != nil {
			log.Fatal(err)
		}
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			log.Fatal(err)
		}
		conf.AddrsTLS = []string{*addr}
		conf.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}}
	} else {
		conf.Addrs = []string{*addr}
	}
	eng := nbhttp.NewEngine(conf)
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
