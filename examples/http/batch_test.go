package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mill-io/mill/http1"
)

// TestBatchRuns checks server.batch, which answers plaintext GETs without
// respond, against respond called request by request: the same bytes,
// for runs of plaintext GETs of every length up to 33, between other
// requests, and across flushAt.
func TestBatchRuns(t *testing.T) {
	const plain = "GET /plaintext HTTP/1.1\r\nHost: h\r\n\r\n"
	others := []string{
		"GET /json HTTP/1.1\r\nHost: h\r\n\r\n",
		"HEAD /plaintext HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /plaintext HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
		"GET /plaintext?x HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
	}
	var in strings.Builder
	for run := 0; run <= 33; run++ {
		in.WriteString(strings.Repeat(plain, run))
		in.WriteString(others[run%len(others)])
	}
	in.WriteString(strings.Repeat(plain, 3*flushAt/100)) // past flushAt
	in.WriteString(strings.Repeat(plain, 5))
	in.WriteString("GET /plaintext HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	in.WriteString(plain) // after the close: not answered

	s := newServer(http1.Limits{})
	// The reference: Decode and respond, one request at a time.
	var want []byte
	c := http1.NewCodec(http1.Limits{})
	for b := []byte(in.String()); ; {
		_, n, err := c.Decode(b)
		if err != nil || n == 0 {
			t.Fatalf("reference: n=%d err=%v", n, err)
		}
		b = b[n:]
		var keep bool
		if want, keep = s.respond(want, &c.Req, nil); !keep {
			break
		}
	}

	// batch, as OnTraffic runs it.
	st := s.newConnState(nil)
	var got, out []byte
	b := []byte(in.String())
	used, end, mores := 0, batchMore, 0
	for end == batchMore {
		var n int
		out, n, end = s.batch(out[:0], st, b[used:])
		used += n
		got = append(got, out...)
		if end == batchMore {
			mores++
		}
	}
	if end != batchClose || used != len(b)-len(plain) {
		t.Errorf("end %d, used %d of %d", end, used, len(b))
	}
	if mores == 0 {
		t.Error("flushAt never reached")
	}
	if !bytes.Equal(got, want) {
		t.Errorf("batch answered %d bytes, respond %d", len(got), len(want))
	}
}
