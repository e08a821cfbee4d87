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

// greetLines answers each read with a reply made of several writes.
type greetLines struct{ mill.BuiltinHandler }

func (greetLines) OnTraffic(c mill.Conn) mill.Action {
	name, _ := c.Next(-1)
	c.Write([]byte("hello, "))
	c.Write(name)
	c.Write([]byte("!\n"))
	return mill.None
}

// With WithWriteBatching the three writes of each OnTraffic leave with
// one writev when the loop has handled everything it woke up for, and
// with WithBusyPoll a loop that just had work polls on for 50 µs instead
// of sleeping at once.
func ExampleWithWriteBatching() {
	s, err := mill.NewServer(greetLines{}, "tcp://127.0.0.1:0",
		mill.WithWriteBatching(true), mill.WithBusyPoll(50*time.Microsecond))
	if err != nil {
		panic(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())

	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("mill"))
	reply := make([]byte, len("hello, mill!\n"))
	if _, err := io.ReadFull(c, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", reply)
	// Output: "hello, mill!\n"
}
