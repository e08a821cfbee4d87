//go:build linux

package mill_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/codec"
)

// exEcho writes back whatever it reads. On a UDP socket Write answers
// the sender of the datagram being delivered, so the same handler serves
// TCP, Unix and UDP addresses.
type exEcho struct{ mill.BuiltinHandler }

func (exEcho) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return mill.None
}

// exLines passes on every line its connections receive.
type exLines struct {
	mill.BuiltinHandler
	lines chan string
}

func (h exLines) OnTraffic(c mill.Conn) mill.Action {
	for {
		f, err := c.ReadFrame()
		if f == nil || err != nil {
			return mill.None
		}
		h.lines <- string(f)
	}
}

// A Client dials out and serves its connections on its own event loops,
// with the same Handler callbacks and Conn methods as a Server.
func ExampleNewClient() {
	srv, err := mill.NewServer(exEcho{}, "tcp://127.0.0.1:0", mill.WithLoops(1))
	if err != nil {
		panic(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	lines := codec.Must(codec.NewLine(codec.LineConfig{}))
	h := exLines{lines: make(chan string, 1)}
	cl, err := mill.NewClient(h, mill.WithLoops(1),
		mill.WithCodec(codec.Shared(lines)), mill.WithDialTimeout(5*time.Second))
	if err != nil {
		panic(err)
	}
	if err := cl.Start(); err != nil {
		panic(err)
	}
	defer cl.Stop(context.Background())

	// Dial blocks this goroutine (never a loop) until OnOpen has run.
	c, err := cl.Dial("tcp", srv.Addr().String())
	if err != nil {
		panic(err)
	}
	c.AsyncWriteFrame([]byte("hello, server"), nil)
	fmt.Println(<-h.lines)
	// Output: hello, server
}

// exLater answers each datagram twice: at once with Write, and later,
// from another goroutine, with SendTo.
type exLater struct{ mill.BuiltinHandler }

func (exLater) OnTraffic(c mill.Conn) mill.Action {
	pc := c.(mill.PacketConn)
	b, _ := pc.Next(-1) // the whole datagram, valid until we return
	pc.Write(append([]byte("now: "), b...))
	to := pc.RemoteAddr() // a new *net.UDPAddr: safe to keep
	msg := string(b)
	go func() {
		time.Sleep(10 * time.Millisecond)
		pc.SendTo([]byte("later: "+msg), to)
	}()
	return mill.None
}

// A UDP server gets one PacketConn per socket. Inside OnTraffic it stands
// for the datagram being delivered: Write replies to its sender. SendTo
// answers from any goroutine, at any time.
func ExamplePacketConn() {
	srv, err := mill.NewServer(exLater{}, "udp://127.0.0.1:0", mill.WithLoops(2))
	if err != nil {
		panic(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	c, err := net.DialUDP("udp", nil, srv.Addr().(*net.UDPAddr))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	for i := 0; i < 2; i++ {
		n, err := c.Read(buf)
		if err != nil {
			panic(err)
		}
		fmt.Println(string(buf[:n]))
	}
	// Output:
	// now: ping
	// later: ping
}

// With WithReusePort(true) each loop has its own SO_REUSEPORT listening
// socket and accepts for itself; the kernel spreads new connections.
func ExampleWithReusePort() {
	srv, err := mill.NewServer(exEcho{}, "tcp://127.0.0.1:0",
		mill.WithLoops(2), mill.WithReusePort(true))
	if err != nil {
		panic(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	buf := make([]byte, 2)
	for i := 0; i < 8; i++ {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			panic(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hi"))
		if _, err := io.ReadFull(c, buf); err != nil {
			panic(err)
		}
		c.Close()
	}
	st := srv.Stats()
	fmt.Printf("%d connections accepted by %d loops\n", st.Total.Accepted, len(st.Loops))
	// Output: 8 connections accepted by 2 loops
}

// One server, one handler, several addresses: TCP, a Unix socket and
// UDP. Addrs lists them in the order given, ports resolved.
func ExampleWithAddrs() {
	dir, err := os.MkdirTemp("", "mill-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "echo.sock")

	srv, err := mill.NewServer(exEcho{}, "tcp://127.0.0.1:0", mill.WithLoops(2),
		mill.WithAddrs("unix://"+sock, "udp://127.0.0.1:0"))
	if err != nil {
		panic(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	for _, a := range srv.Addrs() {
		c, err := net.Dial(a.Network(), a.String())
		if err != nil {
			panic(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello"))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			panic(err)
		}
		fmt.Println(a.Network(), string(buf))
		c.Close()
	}
	// Output:
	// tcp hello
	// unix hello
	// udp hello
}
