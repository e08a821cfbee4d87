// Command gnethttp is an HTTP/1.1 "plaintext" server on gnet v2, the kind of
// gnet HTTP server that is usually benchmarked: it does not parse requests.
// It only finds request boundaries (the "\r\n\r\n" that ends a header
// section), checks that the request starts with "GET /plaintext", and answers
// every complete request in the input (pipelining) with one write per
// OnTraffic. There is no header validation, no Content-Length or chunked
// request bodies, no Connection: close handling and no HTTP/1.0 handling.
// It therefore does strictly less work per request than a full parser.
//
// The response is byte-for-byte the one of examples/http (mill), Server
// value included, so clients receive and parse identical bytes:
//
//	HTTP/1.1 200 OK
//	Server: mill
//	Date: <IMF-fixdate, refreshed once a second>
//	Content-Type: text/plain
//	Content-Length: 13
//
//	Hello, World!
//
// Anything else that ends in "\r\n\r\n" gets a 404; a header section longer
// than 8 KiB closes the connection.
//
//	go run ./servers/gnethttp -addr 127.0.0.1:8080 -loops 1
package main

import (
	"bytes"
	"flag"
	"log"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

const (
	dateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"
	maxHeader  = 8 << 10
)

var (
	crlfcrlf      = []byte("\r\n\r\n")
	plaintextLine = []byte("GET /plaintext ")
)

// responses holds the complete response bytes for the current second.
type responses struct {
	plaintext, notFound []byte
}

var current atomic.Pointer[responses]

func build(now time.Time) *responses {
	date := now.UTC().Format(dateLayout)
	head := func(status, ctype string, n int) string {
		return "HTTP/1.1 " + status + "\r\nServer: mill\r\nDate: " + date +
			"\r\nContent-Type: " + ctype + "\r\nContent-Length: " + itoa(n) + "\r\n\r\n"
	}
	const body404 = "404 Not Found\n"
	return &responses{
		plaintext: []byte(head("200 OK", "text/plain", 13) + "Hello, World!"),
		notFound:  []byte(head("404 Not Found", "text/plain; charset=utf-8", len(body404)) + body404),
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// refresh rebuilds the responses just after every change of the wall clock's
// second, like mill's example does for its Date header.
func refresh() {
	for {
		now := time.Now()
		time.Sleep(time.Second - time.Duration(now.Nanosecond()) + time.Millisecond)
		current.Store(build(time.Now()))
	}
}

type server struct{ gnet.BuiltinEventEngine }

// out is the per-connection response buffer (gnet's Write copies what the
// socket does not take at once, so the buffer is reusable right away).
type out struct{ buf []byte }

func (server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&out{buf: make([]byte, 0, 1024)})
	return nil, gnet.None
}

func (server) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	o := c.Context().(*out)
	r := current.Load()
	used := 0
	for {
		i := bytes.Index(in[used:], crlfcrlf)
		if i < 0 {
			break
		}
		if bytes.HasPrefix(in[used:], plaintextLine) {
			o.buf = append(o.buf, r.plaintext...)
		} else {
			o.buf = append(o.buf, r.notFound...)
		}
		used += i + len(crlfcrlf)
	}
	if len(in)-used > maxHeader {
		return gnet.Close
	}
	if len(o.buf) > 0 {
		_, _ = c.Write(o.buf)
		o.buf = o.buf[:0]
	}
	if used > 0 { // Discard(0) would drop everything
		_, _ = c.Discard(used)
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address host:port")
	loops := flag.Int("loops", 0, "event loops (0 = one per CPU)")
	flag.Parse()
	n := *loops
	if n <= 0 {
		n = runtime.NumCPU()
	}
	current.Store(build(time.Now()))
	go refresh()
	err := gnet.Run(&server{}, "tcp://"+*addr,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(n),
		gnet.WithReuseAddr(true),
	)
	if err != nil {
		log.Fatal(err)
	}
}
