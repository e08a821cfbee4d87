// Command mill is the echo server built on mill, the contender under test.
// With -udp it echoes UDP datagrams on -addr instead: the same handler, as
// OnTraffic gets each datagram on the socket's PacketConn and Write sends
// one datagram back to its sender.
package main

import (
	"flag"
	"log"

	"github.com/mill-io/mill"
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
	flag.Parse()
	network := "tcp://"
	if *udp {
		network = "udp://"
	}
	if err := mill.Run(echo{}, network+*addr, mill.WithLoops(*loops)); err != nil {
		log.Fatal(err)
	}
}
