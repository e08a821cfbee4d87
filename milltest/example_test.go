package milltest_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/milltest"
)

// echoHandler writes back whatever it reads.
type echoHandler struct{ mill.BuiltinHandler }

func (echoHandler) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return mill.None
}

// Unit-testing an echo handler: open a connection, send it bytes, look
// at what it wrote, hang up.
func Example() {
	h := milltest.NewHarness(echoHandler{})
	c := h.Open() // runs OnOpen
	h.Traffic(c, []byte("hello, "))
	h.Traffic(c, []byte("world"))
	fmt.Printf("%q\n", c.TakeOutput())

	h.Close(c, nil) // the peer hung up: runs OnClose
	fmt.Println(c.Closed(), c.Actions())
	// Output:
	// "hello, world"
	// true [None None None None]
}

// Without a Harness, a test can call the handler itself.
func ExampleConn() {
	c := milltest.NewConn()
	c.Feed([]byte("ping"))
	echoHandler{}.OnTraffic(c)
	fmt.Printf("%q, %d unread\n", c.Output(), c.InboundBuffered())
	// Output:
	// "ping", 0 unread
}

// lines frames the command protocol: lines of at most 32 bytes, answered
// with CRLF endings.
var lines = codec.Must(codec.NewLine(codec.LineConfig{MaxLength: 32, CRLF: true}))

// commands is a line protocol: PING, ECHO <text> and QUIT. A server runs
// it with mill.WithCodec(codec.Shared(lines)).
type commands struct{ mill.BuiltinHandler }

func (commands) OnOpen(mill.Conn) ([]byte, mill.Action) {
	return []byte("READY\r\n"), mill.None
}

func (commands) OnTraffic(c mill.Conn) mill.Action {
	for {
		line, err := c.ReadFrame()
		if err != nil {
			// The connection closes (lingering) once we return; the
			// reply goes out first.
			c.WriteFrame([]byte("ERR line too long"))
			return mill.None
		}
		if line == nil {
			return mill.None // wait for the rest of the line
		}
		cmd, arg, _ := bytes.Cut(line, []byte(" "))
		switch string(cmd) {
		case "PING":
			c.WriteFrame([]byte("PONG"))
		case "ECHO":
			c.WriteFrame(arg)
		case "QUIT":
			c.WriteFrame([]byte("BYE"))
			return mill.Close
		default:
			c.WriteFrame([]byte("ERR unknown command"))
		}
	}
}

// Unit-testing a line protocol: set the codec the server would set, then
// feed it lines, whole or in pieces.
func ExampleHarness_lineProtocol() {
	h := milltest.NewHarness(commands{})
	c := milltest.NewConn()
	c.SetCodec(lines) // as mill.WithCodec would
	h.OpenConn(c)

	h.Traffic(c, []byte("PING\r\nECHO hel"))
	h.Traffic(c, []byte("lo\r\nQUIT\r\nPING\r\n"))
	for _, w := range c.Written() {
		fmt.Printf("%q\n", w)
	}
	fmt.Println(c.Closed(), c.Actions())
	// Output:
	// "READY\r\n"
	// "PONG\r\n"
	// "hello\r\n"
	// "BYE\r\n"
	// true [None None Close None]
}

// A line longer than the codec allows: the handler answers, then the
// connection closes lingering with the codec's error.
func ExampleHarness_decodeError() {
	h := milltest.NewHarness(commands{})
	c := milltest.NewConn()
	c.SetCodec(lines)
	h.OpenConn(c)
	c.TakeOutput() // drop the greeting

	h.Traffic(c, []byte(strings.Repeat("x", 40)))
	fmt.Printf("%q\n", c.Output())
	fmt.Println(c.Closed(), c.Lingering(), errors.Is(c.CloseErr(), codec.ErrFrameTooLong))
	// Output:
	// "ERR line too long\r\n"
	// true true true
}

// lookup answers each line after work too slow for the event loop, done
// on the worker pool.
type lookup struct{ mill.BuiltinHandler }

func (lookup) OnTraffic(c mill.Conn) mill.Action {
	for {
		line, err := c.ReadFrame()
		if line == nil || err != nil {
			return mill.None
		}
		key := string(line) // a copy: the frame is only valid until we return
		c.Submit(func() {
			c.AsyncWriteFrame([]byte(key+"="+strings.ToUpper(key)), nil)
		})
	}
}

// Work handed off with Submit, Do or an asynchronous write waits until
// the test runs it with RunPending.
func ExampleConn_RunPending() {
	h := milltest.NewHarness(lookup{})
	c := milltest.NewConn()
	c.SetCodec(lines)
	h.OpenConn(c)

	h.Traffic(c, []byte("a\r\nb\r\n"))
	fmt.Printf("before: %q, %d pending\n", c.Output(), c.Pending())
	n := c.RunPending() // the two tasks, then the two writes they queued
	fmt.Printf("after: %q, ran %d\n", c.Output(), n)
	// Output:
	// before: "", 2 pending
	// after: "a=A\r\nb=B\r\n", ran 4
}

// producer sends numbered lines, pausing while the connection is not
// writable and resuming when it is told it is again.
type producer struct {
	mill.BuiltinHandler
	sent, total int
}

func (p *producer) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	p.produce(c)
	return nil, mill.None
}

func (p *producer) OnWritabilityChanged(c mill.Conn, writable bool) {
	if writable {
		p.produce(c)
	}
}

func (p *producer) produce(c mill.Conn) {
	for p.sent < p.total && c.Writable() {
		c.Write(fmt.Appendf(nil, "%03d\n", p.sent))
		p.sent++
	}
}

// A peer that reads slowly: while the fake socket is full, output queues
// and the connection turns unwritable past the high watermark; Drain
// plays the peer reading.
func ExampleConn_SetSocketFull() {
	p := &producer{total: 10}
	h := milltest.NewHarness(p)
	c := milltest.NewConn()
	c.SetWriteWatermarks(8, 16) // 4-byte lines: unwritable once 5 are queued
	c.SetSocketFull(true)       // the peer reads nothing yet
	h.OpenConn(c)
	fmt.Println(p.sent, c.OutboundBuffered(), c.Writable())

	c.Drain(16)    // the peer reads 4 lines: 1 left, below the low watermark
	c.RunPending() // the notices: unwritable, then writable again
	fmt.Println(p.sent, c.OutboundBuffered(), c.Writable())

	c.SetSocketFull(false) // the peer reads everything
	c.RunPending()
	fmt.Println(p.sent, c.OutboundBuffered(), len(c.Output()))
	// Output:
	// 5 20 false
	// 9 20 false
	// 10 0 40
}
