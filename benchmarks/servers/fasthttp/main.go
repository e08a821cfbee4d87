// Command fasthttp is an HTTP/1.1 "plaintext" server on valyala/fasthttp
// with default settings: a goroutine per connection, full request parsing
// (request line and every header, header-name normalization), keep-alive and
// pipelining (responses to the requests already buffered are flushed
// together).
//
// GET /plaintext gets byte-for-byte the response of examples/http (mill),
// Server value included: fasthttp writes Server, Date (its own once-a-second
// cache), Content-Type and Content-Length in the same order as mill. Other
// paths get a 404.
//
// -loops N sets GOMAXPROCS to N when N > 0 (fasthttp has no event loops; with
// 0 the Go default, one per CPU the process may run on, applies).
//
//	go run ./servers/fasthttp -addr 127.0.0.1:8080 -loops 1
package main

import (
	"flag"
	"log"
	"runtime"

	"github.com/valyala/fasthttp"
)

var body = []byte("Hello, World!")

func handler(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/plaintext" && ctx.IsGet() {
		ctx.SetContentType("text/plain")
		ctx.SetBody(body)
		return
	}
	ctx.Error("404 Not Found\n", fasthttp.StatusNotFound)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address host:port")
	loops := flag.Int("loops", 0, "GOMAXPROCS (0 = Go's default)")
	flag.Parse()
	if *loops > 0 {
		runtime.GOMAXPROCS(*loops)
	}
	s := &fasthttp.Server{Handler: handler, Name: "mill"}
	if err := s.ListenAndServe(*addr); err != nil {
		log.Fatal(err)
	}
}
