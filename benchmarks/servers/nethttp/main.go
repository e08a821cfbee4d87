// Command nethttp is the standard library's HTTP server, net/http, serving
// GET /plaintext (internal/plaintext: the header fields and body of
// examples/http). With -tls it serves HTTPS through crypto/tls
// (http.Server.ServeTLS; certificate from -cert/-key, or a self-signed
// ECDSA P-256 one). -loops N sets GOMAXPROCS (0: Go's default).
//
//	go run ./servers/nethttp -addr 127.0.0.1:8443 -loops 1 -tls
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"runtime"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/plaintext"
	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address host:port")
	loops := flag.Int("loops", 0, "GOMAXPROCS (0 = Go's default)")
	useTLS := flag.Bool("tls", false, "serve HTTPS")
	var cert tlscert.Flags
	cert.Register(flag.CommandLine)
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	if *loops > 0 {
		runtime.GOMAXPROCS(*loops)
	}
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(plaintext.Handler)}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if !*useTLS {
		log.Fatal(srv.Serve(ln))
	}
	cfg, err := cert.Config()
	if err != nil {
		log.Fatal(err)
	}
	srv.TLSConfig = cfg
	log.Fatal(srv.ServeTLS(ln, "", ""))
}
