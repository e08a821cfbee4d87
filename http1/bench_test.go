package http1

import (
	"bytes"
	"testing"
)

// BenchmarkParse parses batches of 16 pipelined requests with Parse, as
// a server's OnTraffic would, without answering them. One op is one
// request. (examples/http's benchmarks parse and answer.)
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, req string }{
		{"TechEmpower", "GET /plaintext HTTP/1.1\r\nHost: tfb-server:8080\r\n" +
			"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n" +
			"Connection: keep-alive\r\n\r\n"},
		{"Wrk", "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:19100\r\n\r\n"},
		{"ContentLength", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n0123456789abcdef"},
		{"Chunked", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"},
		{"AbsoluteForm", "GET http://example.com/plaintext?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewCodec(Limits{})
			batch := bytes.Repeat([]byte(bc.req), 16)
			b.SetBytes(int64(len(bc.req)))
			b.ReportAllocs()
			for i := 0; i < b.N; i += 16 {
				for in := batch; len(in) > 0; {
					n, err := c.Parse(in)
					if n == 0 || err != nil {
						b.Fatalf("Parse: %d, %v", n, err)
					}
					in = in[n:]
				}
			}
		})
	}
}
