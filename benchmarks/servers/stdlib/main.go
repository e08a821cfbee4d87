// Command stdlib is a goroutine-per-connection echo server on package net.
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
	"errors"
	"flag"
	"log"
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "GOMAXPROCS (0 = one per CPU)")
	udp := flag.Bool("udp", false, "serve UDP echo: GOMAXPROCS SO_REUSEPORT sockets, one goroutine each")
	flag.Parse()
	if *loops > 0 {
		runtime.GOMAXPROCS(*loops)
	}
	if *udp {
		serveUDP(*addr, runtime.GOMAXPROCS(0))
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
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
