package http1_test

import (
	"errors"
	"fmt"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// A codec parses the requests of one connection, however they arrive:
// Parse returns 0 until a request is complete, then its length.
func ExampleCodec_Parse() {
	c := http1.NewCodec(http1.Limits{MaxBody: 64 << 10})
	in := []byte("POST /echo?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhel")
	n, err := c.Parse(in)
	fmt.Println(n, err)

	in = append(in, "lo"...) // the rest arrives: the same bytes, and more
	n, err = c.Parse(in)
	r := &c.Req
	fmt.Println(n == len(in), err)
	fmt.Printf("%s %s %s host=%s keep-alive=%v body=%q\n", r.Method, r.Target, r.Path, r.Host, r.KeepAlive, r.Body)
	// Output:
	// 0 <nil>
	// true <nil>
	// POST /echo?x=1 /echo host=example.com keep-alive=true body="hello"
}

// A refused request comes back as a *StatusError with the status to
// answer with; the connection is then closed.
func ExampleStatusError() {
	c := http1.NewCodec(http1.Limits{})
	_, err := c.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
	fmt.Println(err.Status, err.Reason)
	_, err = c.Parse([]byte("GET / HTTP/2.0\r\n\r\n"))
	fmt.Println(err) // the codec repeats its first error
	// Output:
	// 400 more than one Host header
	// http: 400 Bad Request: more than one Host header
}

// Writing a response head, then the body.
func ExampleAppendStatusLine() {
	body := "Hello, World!"
	var dst []byte
	dst = http1.AppendStatusLine(dst, 200)
	dst = http1.AppendField(dst, "Content-Type", "text/plain")
	dst = http1.AppendContentLength(dst, len(body))
	dst = append(dst, "\r\n"...)
	dst = append(dst, body...)
	fmt.Printf("%q\n", dst)
	// Output:
	// "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
}

// server answers every complete request buffered on a connection in one
// write: the way to serve HTTP/1.1 on mill's loops (examples/http adds
// the Date field, routes, 100 Continue and a lingering close).
type server struct{ mill.BuiltinHandler }

func (server) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(http1.NewCodec(http1.Limits{}))
	return nil, mill.None
}

func (server) OnTraffic(c mill.Conn) mill.Action {
	codec := c.Context().(*http1.Codec)
	in, _ := c.Peek(-1)
	var out []byte
	used := 0
	for {
		n, err := codec.Parse(in[used:])
		if err != nil {
			out = http1.AppendStatusLine(out, err.Status)
			out = append(out, "Connection: close\r\nContent-Length: 0\r\n\r\n"...)
			_, _ = c.Write(out)
			// Linger: the client may still be sending, and a close with
			// its bytes unread would reset the connection under the reply.
			c.Discard(-1)
			_ = c.CloseLingering()
			return mill.None
		}
		if n == 0 {
			break
		}
		used += n
		body := codec.Req.Path // valid until OnTraffic returns
		out = http1.AppendStatusLine(out, 200)
		out = http1.AppendContentLength(out, len(body))
		out = append(append(out, "\r\n"...), body...)
	}
	c.Discard(used)
	if _, err := c.Write(out); err != nil {
		return mill.Close
	}
	return mill.None
}

// A minimal server on mill that answers each request with its path.
func Example_server() {
	_ = mill.Run(server{}, "tcp://127.0.0.1:8080")
}

// frameServer reads requests with Conn.ReadFrame, one frame per request.
// It makes each connection's codec itself in OnOpen and keeps it in the
// context too, since the handler needs the codec's Req and Conn does not
// hand out the codec that mill.WithCodec made.
type frameServer struct{ mill.BuiltinHandler }

func (frameServer) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	cd := http1.NewCodec(http1.Limits{MaxBody: 64 << 10})
	c.SetCodec(cd)
	c.SetContext(cd)
	return nil, mill.None
}

func (frameServer) OnTraffic(c mill.Conn) mill.Action {
	cd := c.Context().(*http1.Codec)
	for {
		frame, err := c.ReadFrame()
		var se *http1.StatusError
		switch {
		case errors.As(err, &se):
			// The codec refused the request: answer with its status. The
			// reply goes out before mill closes the connection, lingering.
			out := http1.AppendStatusLine(nil, se.Status)
			out = append(out, "Connection: close\r\nContent-Length: 0\r\n\r\n"...)
			_, _ = c.Write(out)
			return mill.None
		case err != nil:
			return mill.Close
		case frame == nil: // no complete request buffered
			if cd.ContinueOwed() {
				_, _ = c.Write([]byte(http1.ContinueResponse))
			}
			return mill.None
		}
		r := &cd.Req // valid until OnTraffic returns or the next ReadFrame
		out := http1.AppendStatusLine(nil, 200)
		if !r.KeepAlive {
			out = append(out, "Connection: close\r\n"...)
		}
		out = http1.AppendContentLength(out, len(r.Body))
		out = append(append(out, "\r\n"...), r.Body...)
		if _, err := c.Write(out); err != nil {
			return mill.Close
		}
		if !r.KeepAlive {
			_ = c.CloseLingering()
			return mill.None
		}
	}
}

// A server that echoes each request's body, reading requests with
// Conn.ReadFrame.
func Example_readFrame() {
	_ = mill.Run(frameServer{}, "tcp://127.0.0.1:8080")
}
