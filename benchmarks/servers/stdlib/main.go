// Command stdlib is a goroutine-per-connection echo server on package net.
//
// With -tls the listener is wrapped by crypto/tls (tls.NewListener): each
// connection's goroutine runs its handshake on the first Read, then echoes
// the plaintext, so this is the standard library's TLS echo server
// (certificate from -cert/-key, or a self-signed ECDSA P-256 one).
//
// With -udp it echoes UDP datagrams on -addr instead: GOMAXPROCS sockets
// bound to the same address with SO_REUSEPORT (the kernel spreads the
// senders over them by 4-tuple, as it does for mill's and gnet's one
// socket per loop), each served by one goroutine looping
// ReadFromUDPAddrPort / WriteToUDPAddrPort. One goroutine per socket,
// because a net.UDPConn serialises concurrent reads on one socket anyway.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log"
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/benchmarks/internal/cpuprof"
	"github.com/mill-io/mill/benchmarks/internal/tlscert"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "GOMAXPROCS (0 = one per CPU)")
	udp := flag.Bool("udp", false, "serve UDP echo: GOMAXPROCS SO_REUSEPORT sockets, one goroutine each")
	useTLS := flag.Bool("tls", false, "serve TLS (crypto/tls) echo")
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
	if *udp {
		serveUDP(*addr, runtime.GOMAXPROCS(0))
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *useTLS {
		cfg, err := cert.Config()
		if err != nil {
			log.Fatal(err)
		}
		ln = tls.NewListener(ln, cfg)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			log.Fatal(err)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveUDP binds n SO_REUSEPORT sockets to addr and echoes every
// datagram back to its sender, one goroutine per socket. It never
// returns unless a socket fails.
func serveUDP(addr string, n int) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			log.Fatal(err)
		}
		go func(c *net.UDPConn) {
			buf := make([]byte, 64<<10)
			for {
				k, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					errc <- err
					return
				}
				// A failed send (a full queue, say) loses the datagram,
				// as a drop on the way would.
				_, _ = c.WriteToUDPAddrPort(buf[:k], from)
			}
		}(pc.(*net.UDPConn))
	}
	log.Fatal(<-errc)
}
