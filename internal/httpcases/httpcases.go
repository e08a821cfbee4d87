// Package httpcases holds test cases shared by the tests of package http1
// and of examples/http: requests an HTTP/1.1 server must refuse, and the
// status of each, so that the parser's tests and the end-to-end tests
// run the same list.
package httpcases

import "strings"

// Case is a request and the status it is refused with.
type Case struct {
	Name, In string
	Status   int
}

// Get is a plain, valid request.
const Get = "GET /plaintext HTTP/1.1\r\nHost: example.com\r\n\r\n"

// Bad are refused requests and their status: every rule of the parser,
// and each limit (at the defaults of http1.DefaultLimits). Do not modify.
var Bad = []Case{
	{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
	{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400},
	{"bare LF in fields", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
	{"bare LF first", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
	{"bad method char", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"no method", " / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
	{"no version", "GET /\r\nHost: h\r\n\r\n", 400},
	{"http/0.9", "GET /\r\n\r\n", 400},
	{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
	{"version 1.10", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
	{"version no minor", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"bad percent", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"short percent", "GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"non-ascii target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"relative target", "GET plaintext HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"asterisk with GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400},
	{"bad name char", "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
	{"space before first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", 400},
	{"CL and TE", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE and CL", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
	{"duplicate CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
	{"conflicting CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
	{"CL list", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
	{"negative CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
	{"plus CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx", 400},
	{"empty CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
	{"hex CL", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400},
	{"chunked twice", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
	{"chunked twice in two lines", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"chunked with params", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
	{"empty TE", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
	{"TE in 1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400},
	{"negative chunk size", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk size 0x", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
	{"empty chunk size", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk size space", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400},
	{"chunk bare LF", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
	{"chunk too long", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk no CRLF", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400},
	{"chunk ext CTL", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400},
	{"bad trailer", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n", 400},
	{"target too long", "GET /" + strings.Repeat("a", 8<<10) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
	{"target too long, no end", "GET /" + strings.Repeat("a", 9<<10), 414},
	{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", 431},
	{"head too large, no end", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 16<<10), 431},
	{"many empty lines", strings.Repeat("\r\n", 8<<10) + Get, 431},
	{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 128) + "\r\n", 431},
	{"trailers too large", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", 431},
	{"CL too large", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413},
	{"CL huge", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413},
	{"chunk too large", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413},
	{"chunk huge", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n", 413},
	{"chunks too large", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n" + strings.Repeat("a", 0x80000) + "\r\n80001\r\n", 413},
	{"gzip", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"gzip, chunked", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
	{"chunked, identity", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501},
	{"method too long", strings.Repeat("A", 21) + " / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
	{"HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505},
}
