//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mill-io/mill"
)

type upper struct{ mill.BuiltinHandler }

// OnTraffic answers every chunk of input in upper case.
func (upper) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out[i] = ch
	}
	c.Write(out)
	return mill.None
}

// A server with an explicit lifecycle: NewServer binds (so Addr is known),
// Serve runs, Shutdown stops.
func Example() {
	s, err := mill.NewServer(upper{}, "tcp://127.0.0.1:0", mill.WithLoops(2))
	if err != nil {
		panic(err)
	}
	go s.Serve()

	c, _ := net.Dial("tcp", s.Addr().String())
	c.Write([]byte("hello, mill"))
	reply := make([]byte, 11)
	io.ReadFull(c, reply)
	fmt.Println(string(reply))
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(s.Shutdown(ctx))
	// Output:
	// HELLO, MILL
	// <nil>
}

type pusher struct {
	mill.BuiltinHandler
	done chan error
}

// OnOpen hands the connection to another goroutine, which writes to it
// with AsyncWrite.
func (p pusher) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	go func() {
		c.AsyncWrite([]byte("from a goroutine\n"), func(c mill.Conn, err error) {
			p.done <- err // runs on the loop, exactly once
		})
	}()
	return nil, mill.None
}

// Conn.AsyncWrite may be called from any goroutine; its callback reports
// the outcome exactly once.
func ExampleConn_asyncWrite() {
	h := pusher{done: make(chan error, 1)}
	s, _ := mill.NewServer(h, "tcp://127.0.0.1:0")
	go s.Serve()
	defer s.Shutdown(context.Background())

	c, _ := net.Dial("tcp", s.Addr().String())
	defer c.Close()
	line := make([]byte, 17)
	io.ReadFull(c, line)
	fmt.Printf("%q %v\n", line, <-h.done)
	// Output: "from a goroutine\n" <nil>
}
