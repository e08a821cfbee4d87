// Command gnet is the gnet v2 echo server used as the reference contender.
// With -udp it echoes UDP datagrams on -addr instead: gnet hands each
// datagram to OnTraffic on a per-datagram conn whose Write sends to the
// sender (gnet forces SO_REUSEPORT for UDP: one socket per event loop).
package main

import (
	"flag"
	"log"
	"runtime"

	"github.com/panjf2000/gnet/v2"
)

type echo struct{ gnet.BuiltinEventEngine }

func (echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	_, _ = c.Write(buf)
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address host:port")
	loops := flag.Int("loops", 0, "event loops (0 = one per CPU)")
	udp := flag.Bool("udp", false, "serve UDP echo instead of TCP")
	flag.Parse()
	network := "tcp://"
	if *udp {
		network = "udp://"
	}
	n := *loops
	if n <= 0 {
		n = runtime.NumCPU()
	}
	err := gnet.Run(&echo{}, network+*addr,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(n),
		gnet.WithReuseAddr(true),
	)
	if err != nil {
		log.Fatal(err)
	}
}
