package main

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// server is the mill.Handler: it routes decoded requests and writes the
// responses.
type server struct {
	mill.BuiltinHandler
	lim  http1.Limits
	date clock
	tick time.Duration // longest wait between ticks (0: until the next second)
	bufs sync.Pool     // *[]byte response batches, shared by the loops
	held atomic.Uint64 // times serve left requests for OnWritabilityChanged
	// ready answers GET /health (the mill.Server's IsReady); set before
	// Serve. Nil: always ready.
	ready func() bool
}

func newServer(lim http1.Limits) *server {
	s := &server{lim: lim.WithDefaults()}
	s.date.set(time.Now())
	s.bufs.New = func() any {
		b := make([]byte, 0, 16<<10)
		return &b
	}
	return s
}

// connState is one connection's state, its request decoder included.
// Only the connection's event loop touches it.
type connState struct {
	http1.Codec
	closing bool      // the last response is out: drop any more input
	conn    mill.Conn // for GET /ip
}

// OnOpen gives the connection its state. With the PROXY protocol on, it
// runs once mill has read the header, so c.RemoteAddr is the client's.
func (s *server) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(s.newConnState(c))
	return nil, mill.None
}

// newConnState returns the state of a new connection c (nil in tests
// that do without one).
func (s *server) newConnState(c mill.Conn) *connState {
	st := &connState{conn: c}
	st.Init(s.lim)
	return st
}

const (
	flushAt    = 64 << 10  // write a batch this big before the input is all read
	maxKeptBuf = 256 << 10 // larger batch buffers are not pooled
)

// OnTraffic answers the requests buffered.
func (s *server) OnTraffic(c mill.Conn) mill.Action { return s.serve(c) }

// OnWritabilityChanged answers the requests serve held back while the
// connection's output was backed up, once it has drained (writable).
func (s *server) OnWritabilityChanged(c mill.Conn, writable bool) {
	if writable && c.InboundBuffered() > 0 && s.serve(c) == mill.Close {
		_ = c.Close() // the connection is broken or closing already
	}
}

// serve answers every complete request buffered, in order, with one
// write for the whole batch (pipelining), or one per flushAt bytes of
// responses. It runs the codec itself over the buffered input, as
// ReadFrame would one frame at a time, and consumes what it decoded in
// one Discard.
//
// A client that pipelines requests without reading the responses must
// not make the server queue output without bound: once the connection's
// queued output passes the high watermark (Writable is false), serve
// stops and leaves the requests not yet answered in the input buffer.
// mill stops reading the connection meanwhile (flow control), so TCP
// pushes back on the client; when the output has drained below the low
// watermark, OnWritabilityChanged calls serve again.
func (s *server) serve(c mill.Conn) mill.Action {
	st, ok := c.Context().(*connState)
	if !ok {
		return mill.Close
	}
	if st.closing {
		c.Discard(-1)
		return mill.None
	}
	in, _ := c.Peek(-1)
	bp := s.bufs.Get().(*[]byte)
	out := (*bp)[:0]
	used, end := 0, batchMore
	var err error
	for end == batchMore {
		var n int
		out, n, end = s.batch(out, st, in[used:])
		used += n
		if end == batchMore { // out reached flushAt
			if _, err = c.Write(out); err != nil {
				break
			}
			out = out[:0]
			if !c.Writable() {
				end = batchWait // the rest waits for OnWritabilityChanged
				s.held.Add(1)
			}
		}
	}
	if err == nil && len(out) > 0 {
		_, err = c.Write(out)
	}
	if cap(out) <= maxKeptBuf {
		*bp = out[:0]
		s.bufs.Put(bp)
	}
	switch {
	case err != nil:
		// Broken, or closing as a slow consumer (a response that would
		// take the queue past the outbound limit; mill logs it).
		return mill.Close
	case end == batchWait:
		c.Discard(used)
		return mill.None
	}
	return s.finish(c, st)
}

// How a batch ends.
const (
	batchWait  = iota // all complete requests answered: wait for more input
	batchMore         // out reached flushAt: write it, then go on
	batchClose        // the last response is in out: close after it
)

// batch decodes the complete requests at the start of in and appends
// their responses to dst, until the input is used up, the connection is
// to close, or dst reaches flushAt. n is how much of in it consumed.
//
// The commonest request, a keep-alive HTTP/1.1 GET of /plaintext, is
// answered without a call to respond.
func (s *server) batch(dst []byte, st *connState, in []byte) (out []byte, n, end int) {
	for {
		if n == len(in) {
			if st.ContinueOwed() {
				dst = append(dst, http1.ContinueResponse...)
			}
			return dst, n, batchWait
		}
		m, e := st.Parse(in[n:])
		if e != nil {
			dst = s.appendHead(dst, e.Status, "", textPlain, len(e.Reason)+1, connClose)
			dst = append(append(dst, e.Reason...), '\n')
			return dst, n, batchClose
		}
		if m == 0 {
			if st.ContinueOwed() {
				dst = append(dst, http1.ContinueResponse...)
			}
			return dst, n, batchWait
		}
		n += m
		if r := &st.Req; isPlaintextGet(r) {
			dst = append(dst, s.date.stamp().plaintext...)
		} else {
			var keep bool
			if dst, keep = s.respond(dst, r, st.conn); !keep {
				return dst, n, batchClose
			}
		}
		if len(dst) >= flushAt {
			return dst, n, batchMore
		}
	}
}

// isPlaintextGet reports whether r is a keep-alive HTTP/1.1 GET of
// /plaintext, whose response is stamp.plaintext.
func isPlaintextGet(r *http1.Request) bool {
	return string(r.Path) == "/plaintext" && string(r.Method) == "GET" && r.KeepAlive && r.Minor != 0
}

// finish ends a connection once its last response is written: after a
// refused request (400, 413, 414, 431, 501, 505) or a request that asked
// to close. The client may still be sending (an upload refused with 413,
// more pipelined requests): closing with its data unread would make the
// kernel reset the connection, and the reset can destroy the response
// before the client reads it. So the close lingers: mill sends what is
// queued, then a FIN, and reads and drops input until the client closes
// too or the linger timeout (mill.WithLingerTimeout, 2 s) passes.
func (s *server) finish(c mill.Conn, st *connState) mill.Action {
	st.closing = true
	c.Discard(-1)
	if c.CloseLingering() != nil {
		return mill.Close
	}
	return mill.None
}

// OnTick refreshes the Date header. It runs on mill's first event loop
// just after each second turns.
func (s *server) OnTick() (time.Duration, mill.Action) {
	now := time.Now()
	s.date.set(now)
	d := untilNextSecond(now)
	if s.tick > 0 && s.tick < d {
		d = s.tick
	}
	return d, mill.None
}

const (
	connClose      = "Connection: close\r\n"
	connKeepAlive  = "Connection: keep-alive\r\n"
	textPlain      = "text/plain; charset=utf-8"
	ctypePlaintext = "text/plain"
	ctypeJSON      = "application/json"
)

var (
	plaintextBody  = []byte("Hello, World!")
	jsonBody       = []byte(`{"message":"Hello, World!"}`)
	notFoundBody   = []byte("404 Not Found\n")
	notAllowedBody = []byte("405 Method Not Allowed\n")
	readyBody      = []byte("ready\n")
	drainingBody   = []byte("draining\n")
)

const (
	routeNone = iota
	routePlaintext
	routeJSON
	routeEcho
	routeIP
	routeHealth
)

func route(path []byte) int {
	switch string(path) {
	case "/plaintext":
		return routePlaintext
	case "/json":
		return routeJSON
	case "/echo":
		return routeEcho
	case "/ip":
		return routeIP
	case "/health":
		return routeHealth
	}
	return routeNone
}

// respond appends the response to r, which came on c, and reports
// whether the connection stays open after it.
func (s *server) respond(dst []byte, r *http1.Request, c mill.Conn) ([]byte, bool) {
	head := string(r.Method) == "HEAD"
	get := head || string(r.Method) == "GET"
	rt := route(r.Path)
	if get && r.KeepAlive && r.Minor != 0 && (rt == routePlaintext || rt == routeJSON) {
		// The common case: a response made once a second (see clock).
		st := s.date.stamp()
		resp, n := st.plaintext, st.plainHead
		if rt == routeJSON {
			resp, n = st.json, st.jsonHead
		}
		if head {
			resp = resp[:n]
		}
		return append(dst, resp...), true
	}
	conn := ""
	switch {
	case !r.KeepAlive:
		conn = connClose
	case r.Minor == 0:
		conn = connKeepAlive
	}
	status, allow, ctype, body := 200, "", "", []byte(nil)
	var ip [64]byte
	switch {
	case rt == routePlaintext && get:
		ctype, body = ctypePlaintext, plaintextBody
	case rt == routeJSON && get:
		ctype, body = ctypeJSON, jsonBody
	case rt == routeIP && get:
		ctype, body = textPlain, appendClientIP(ip[:0], c)
	case rt == routeHealth && get:
		ctype, body = textPlain, readyBody
		if s.ready != nil && !s.ready() {
			status, body = 503, drainingBody
		}
	case rt == routeEcho && string(r.Method) == "POST":
		ctype, body = "application/octet-stream", r.Body
	case rt == routeEcho:
		status, allow, ctype, body = 405, "POST", textPlain, notAllowedBody
	case rt != routeNone:
		status, allow, ctype, body = 405, "GET, HEAD", textPlain, notAllowedBody
	default:
		status, ctype, body = 404, textPlain, notFoundBody
	}
	dst = s.appendHead(dst, status, allow, ctype, len(body), conn)
	if !head {
		dst = append(dst, body...)
	}
	return dst, r.KeepAlive
}

// appendClientIP appends the body of GET /ip: the client's IP address as
// mill sees it (from the PROXY header, with -proxy-protocol), without
// the port, and a newline. An IPv4 address a dual-stack socket reports
// as IPv4-mapped IPv6 is written as IPv4. Over a Unix socket it is the
// peer's socket name, usually empty.
func appendClientIP(dst []byte, c mill.Conn) []byte {
	if c == nil {
		return append(dst, '\n')
	}
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			dst = ip.Unmap().WithZone(a.Zone).AppendTo(dst)
		}
	case nil:
	default:
		dst = append(dst, a.String()...)
	}
	return append(dst, '\n')
}

// appendHead appends a response's status line and header section.
func (s *server) appendHead(dst []byte, status int, allow, ctype string, length int, conn string) []byte {
	return appendHead(dst, s.date.get(), status, allow, ctype, length, conn)
}

// appendHead appends a response's status line and header section, with
// date as the Date value; conn is "" or a whole Connection field line.
func appendHead(dst, date []byte, status int, allow, ctype string, length int, conn string) []byte {
	dst = http1.AppendStatusLine(dst, status)
	dst = append(dst, "Server: mill\r\nDate: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\nContent-Type: "...)
	dst = append(dst, ctype...)
	dst = append(dst, "\r\n"...)
	dst = http1.AppendContentLength(dst, length)
	if allow != "" {
		dst = http1.AppendField(dst, "Allow", allow)
	}
	dst = append(dst, conn...)
	return append(dst, "\r\n"...)
}
