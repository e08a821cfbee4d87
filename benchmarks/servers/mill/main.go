// Command mill is the echo server built on mill, the contender under test.
// With -udp it echoes UDP datagrams on -addr instead: the same handler, as
// OnTraffic gets each datagram on the socket's PacketConn and Write sends
// one datagram back to its sender.
//
// With -tls it serves TLS echo (mill.WithTLS): the same handler sees the
// plaintext; the certificate comes from -cert/-key, or is a self-signed
// ECDSA P-256 one made at start.
package main

import (
	"flag"
	"log"

	"github.com/mill-io/mill"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

type echo struct{ mill.BuiltinHandler }

func (echo) OnTraffic(c mill.Conn) mill.Action {
	buf, _ := c.Next(-1)
	_, _ = c.Write(buf)
	return mill.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "event loops (0 = one per CPU)")
	udp := flag.Bool("udp", false, "serve UDP echo (one socket per loop, SO_REUSEPORT) instead of TCP")
	useTLS := flag.Bool("tls", false, "serve TLS echo (mill.WithTLS)")
	var cert tlscert.Flags
	cert.Register(flag.CommandLine)
	lock := flag.Bool("lock-os-thread", true, "mill.WithLockOSThread: each loop on its own OS thread (mill's default)")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file (on SIGTERM/SIGINT)")
	flag.Parse()
	if err := cpuprof.Start(*profile); err != nil {
		log.Fatal(err)
	}
	network := "tcp://"
	if *udp {
		network = "udp://"
	}
	opts := []mill.Option{mill.WithLoops(*loops), mill.WithLockOSThread(*lock)}
	if *useTLS {
		cfg, err := cert.Config()
		if err != nil {
			log.Fatal(err)
		}
		opts = append(opts, mill.WithTLS(cfg))
	}
	if err := mill.Run(echo{}, network+*addr, opts...); err != nil {
		log.Fatal(err)
	}
}
