package main

import (
	"bytes"
	"testing"

	"github.com/mill-io/mill/http1"
)

// techEmpowerGet is the request wrk sends in TechEmpower's plaintext test.
const techEmpowerGet = "GET /plaintext HTTP/1.1\r\n" +
	"Host: tfb-server:8080\r\n" +
	"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n" +
	"Connection: keep-alive\r\n\r\n"

// BenchmarkPipelinedPlaintext decodes and answers pipelined GET
// /plaintext requests, 16 per batch as in TechEmpower, in process: what
// OnTraffic does per request, without the sockets. One op is one request.
func BenchmarkPipelinedPlaintext(b *testing.B) {
	benchPipeline(b, techEmpowerGet)
}

// BenchmarkPipelinedWrk is BenchmarkPipelinedPlaintext with the request
// wrk sends (the benchmarks runner's http-pipeline workload).
func BenchmarkPipelinedWrk(b *testing.B) {
	benchPipeline(b, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:19100\r\n\r\n")
}

// BenchmarkPipelinedEcho does the same with a small chunked POST /echo.
func BenchmarkPipelinedEcho(b *testing.B) {
	benchPipeline(b, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
}

// benchPipeline runs batches of 16 pipelined requests through
// server.batch, as OnTraffic does.
func benchPipeline(b *testing.B, req string) {
	s := newServer(http1.Limits{})
	st := s.newConnState(nil)
	batch := bytes.Repeat([]byte(req), 16)
	out := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		var n, end int
		out, n, end = s.batch(out[:0], st, batch)
		if n != len(batch) || end != batchWait {
			b.Fatalf("batch: consumed %d of %d, end %d", n, len(batch), end)
		}
	}
}

// TestZeroAllocs holds the benchmark's promise in the regular tests.
func TestZeroAllocs(t *testing.T) {
	s := newServer(http1.Limits{})
	for _, req := range []string{techEmpowerGet, "HEAD /json HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"} {
		st := s.newConnState(nil)
		in := []byte(req)
		out := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(1000, func() {
			var n int
			if out, n, _ = s.batch(out[:0], st, in); n != len(in) {
				t.Fatal("no request")
			}
		})
		if allocs != 0 {
			t.Errorf("%v allocations per request for %q", allocs, req)
		}
	}
}
