package main

import (
	"strconv"
	"testing"

	"github.com/mill-io/mill"
)

// argCounter answers every command with its argument count, framed by
// mill itself: the RESP codec installed with mill.WithCodec, read with
// ReadFrame and written with WriteFrame (a bulk string).
type argCounter struct{ mill.BuiltinHandler }

func (argCounter) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(newRESPCodec(Limits{})) // to split frames
	return nil, mill.None
}

func (argCounter) OnTraffic(c mill.Conn) mill.Action {
	d := c.Context().(*respCodec)
	for {
		f, err := c.ReadFrame()
		if f == nil || err != nil {
			return mill.None
		}
		args, err := d.Split(f)
		if err != nil {
			return mill.Close
		}
		if c.WriteFrame([]byte(strconv.Itoa(len(args)))) != nil {
			return mill.Close
		}
	}
}

// TestWithMillCodec checks that the codec works as a mill codec: frames
// come out whole however the input is split, and a decode error closes
// the connection. (The server itself does not install it: it runs the
// codec over all the buffered input in one pass instead of calling
// ReadFrame per command.)
func TestWithMillCodec(t *testing.T) {
	s, err := mill.NewServer(argCounter{}, "tcp://127.0.0.1:0", mill.WithLoops(1), mill.WithCodec(respFactory(Limits{})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	defer func() {
		s.Shutdown(t.Context())
		<-done
	}()
	c := dial(t, s.Addr().String())
	c.do(cmd("SET", "k", "v")+"PING\r\n\r\nECHO 'a b' c\r\n", "$1\r\n3\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n3\r\n")
	c.send("*2\r\n$4\r\nECHO\r\n")
	c.do("$3\r\nabc\r\n", "$1\r\n2\r\n")
	c.send("*1\r\n$x\r\n")
	c.expectEOF()
}
