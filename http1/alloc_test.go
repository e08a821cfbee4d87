package http1

import (
	"strings"
	"testing"
)

// TestParseZeroAllocs: once its buffers have grown, the codec parses
// each kind of request without allocating, on the fast path and off it.
func TestParseZeroAllocs(t *testing.T) {
	for _, req := range []string{
		get,
		"GET /plaintext HTTP/1.1\r\nHost: tfb-server:8080\r\nAccept: text/plain,text/html;q=0.9\r\nConnection: keep-alive\r\n\r\n",
		"HEAD /json?x=%2F HTTP/1.0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET http://h/abs HTTP/1.1\r\nHost: h\r\n\r\n", // not on the fast path
		"\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		c := NewCodec(Limits{})
		in := []byte(req)
		if n, err := c.Parse(in); n != len(in) || err != nil { // grow the buffers
			t.Fatalf("%q: %d, %v", req, n, err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if n, err := c.Parse(in); n != len(in) || err != nil {
				t.Fatalf("%q: %d, %v", req, n, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v allocations per request for %q", allocs, req)
		}
	}
}

// TestZeroCodec: a zero Codec enforces DefaultLimits, and Init sets
// others.
func TestZeroCodec(t *testing.T) {
	var c Codec
	if o := feed(t, &c, []byte(get+get)); o.Status != 0 || len(o.Reqs) != 2 || o.Left != 0 {
		t.Fatalf("zero codec: %+v", o)
	}
	if c.Limits() != DefaultLimits {
		t.Fatalf("zero codec limits %+v", c.Limits())
	}
	long := "GET /" + strings.Repeat("a", DefaultLimits.MaxTarget) + " HTTP/1.1\r\nHost: h\r\n\r\n"
	if o := feed(t, new(Codec), []byte(long)); o.Status != 414 {
		t.Fatalf("zero codec, long target: %+v", o)
	}
	c.Init(Limits{MaxTarget: 4})
	if o := feed(t, &c, []byte(get)); o.Status != 414 {
		t.Fatalf("Init(MaxTarget 4): %+v", o)
	}
	if got := c.Limits(); got.MaxTarget != 4 || got.MaxHead != DefaultLimits.MaxHead {
		t.Fatalf("Init(MaxTarget 4): limits %+v", got)
	}
}

func TestStatusTextOfErrors(t *testing.T) {
	for _, tt := range badRequests {
		o := decodeString(t, Limits{}, tt.In)
		if StatusText(o.Status) == "Unknown" {
			t.Errorf("%s: status %d has no reason phrase", tt.Name, o.Status)
		}
	}
	if StatusText(299) != "Unknown" || StatusText(503) != "Service Unavailable" {
		t.Error("StatusText")
	}
}

func TestAppendResponse(t *testing.T) {
	dst := AppendStatusLine([]byte("x"), 404)
	dst = AppendField(dst, "Allow", "GET, HEAD")
	dst = AppendField(dst, "X-Bytes", []byte("v"))
	dst = AppendContentLength(dst, 0)
	want := "xHTTP/1.1 404 Not Found\r\nAllow: GET, HEAD\r\nX-Bytes: v\r\nContent-Length: 0\r\n"
	if string(dst) != want {
		t.Fatalf("got %q\nwant %q", dst, want)
	}
	if ContinueResponse != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatal(ContinueResponse)
	}
}
