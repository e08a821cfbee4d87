package http1

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/internal/httpcases"
)

var _ codec.Codec = (*Codec)(nil)

// badRequests are refused requests and their status.
var badRequests = httpcases.Bad

// snap is a decoded request, copied out of the codec.
type snap struct {
	N         int
	Method    string
	Target    string
	Path      string
	Minor     int
	Host      string
	Headers   string
	Body      string
	Chunked   bool
	KeepAlive bool
	NHeaders  int
}

func snapshot(c *Codec, n int) snap {
	r := &c.Req
	var h []string
	for _, f := range r.Headers {
		h = append(h, string(f.Name)+": "+string(f.Value))
	}
	return snap{n, string(r.Method), string(r.Target), string(r.Path), r.Minor, string(r.Host),
		strings.Join(h, "|"), string(r.Body), r.Chunked, r.KeepAlive, len(r.Headers)}
}

// outcome is what a codec made of a stream: its requests, then how it
// stopped (0: waiting for more input, else the refusal's status).
type outcome struct {
	Reqs   []snap
	Status int
	Left   int // bytes left undecoded
}

// feed decodes data as mill would, receiving it in pieces that end at the
// given cuts (and at len(data)). Each call gets a fresh copy of the
// unread input, and the previous copy is then scribbled over, so that a
// codec keeping slices of old input would be caught. It checks the
// Decode contract on every call.
func feed(t testing.TB, c *Codec, data []byte, cuts ...int) outcome {
	var o outcome
	var pending, old []byte
	prev := 0
	for _, cut := range append(cuts, len(data)) {
		if cut < prev || cut > len(data) {
			continue
		}
		pending = append(append([]byte(nil), pending...), data[prev:cut]...)
		prev = cut
		for i := range old {
			old[i] = 'X'
		}
		old = pending
		for {
			frame, n, err := c.Decode(pending)
			if err != nil {
				var se *StatusError
				if !errors.As(err, &se) || n != 0 || frame != nil {
					t.Fatalf("Decode: n=%d frame=%q err=%v", n, frame, err)
				}
				if !errors.Is(err, codec.ErrCorruptFrame) && !errors.Is(err, codec.ErrFrameTooLong) {
					t.Fatalf("Decode error %v wraps neither codec error", err)
				}
				too := se.Status == 413 || se.Status == 414 || se.Status == 431
				if too != errors.Is(err, codec.ErrFrameTooLong) {
					t.Fatalf("status %d, ErrFrameTooLong %v", se.Status, !too)
				}
				o.Status, o.Left = se.Status, len(pending)
				return o
			}
			if n < 0 || n > len(pending) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(pending))
			}
			if n == 0 {
				if frame != nil {
					t.Fatalf("incomplete Decode returned frame %q", frame)
				}
				break
			}
			if len(frame) != n || &frame[0] != &pending[0] {
				t.Fatalf("frame of %d bytes is not in[:%d]", len(frame), n)
			}
			o.Reqs = append(o.Reqs, snapshot(c, n))
			pending = pending[n:]
		}
	}
	o.Left = len(pending)
	return o
}

func decodeString(t *testing.T, lim Limits, s string) outcome {
	t.Helper()
	return feed(t, NewCodec(lim), []byte(s))
}

const get = httpcases.Get

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, in string
		want     snap // N is not compared
	}{
		{"minimal", get, snap{Method: "GET", Target: "/plaintext", Path: "/plaintext", Minor: 1,
			Host: "example.com", Headers: "Host: example.com", KeepAlive: true}},
		{"query and OWS", "GET /json?a=1&b=%2F HTTP/1.1\r\nHost:\t example.com \t\r\nX-Empty:\r\n\r\n",
			snap{Method: "GET", Target: "/json?a=1&b=%2F", Path: "/json", Minor: 1, Host: "example.com",
				Headers: "Host: example.com|X-Empty: ", KeepAlive: true}},
		{"leading empty lines", "\r\n\r\n" + get, snap{Method: "GET", Target: "/plaintext", Path: "/plaintext",
			Minor: 1, Host: "example.com", Headers: "Host: example.com", KeepAlive: true}},
		{"absolute-form", "GET http://example.com HTTP/1.1\r\nhost: x\r\n\r\n", snap{Method: "GET",
			Target: "http://example.com", Path: "/", Minor: 1, Host: "x", Headers: "host: x", KeepAlive: true}},
		{"absolute-form path", "GET https://h:8080/echo?x HTTP/1.1\r\nHOST: h\r\n\r\n", snap{Method: "GET",
			Target: "https://h:8080/echo?x", Path: "/echo", Minor: 1, Host: "h", Headers: "HOST: h", KeepAlive: true}},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", snap{Method: "OPTIONS", Target: "*", Path: "*",
			Minor: 1, Host: "h", Headers: "Host: h", KeepAlive: true}},
		{"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", snap{Method: "CONNECT", Target: "h:443",
			Minor: 1, Host: "h:443", Headers: "Host: h:443", KeepAlive: true}},
		{"close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n", snap{Method: "GET", Target: "/",
			Path: "/", Minor: 1, Host: "h", Headers: "Host: h|Connection: foo, Close"}},
		{"1.0", "GET / HTTP/1.0\r\n\r\n", snap{Method: "GET", Target: "/", Path: "/"}},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", snap{Method: "GET", Target: "/",
			Path: "/", Headers: "Connection: keep-alive", KeepAlive: true}},
		{"1.2 is 1.1", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", snap{Method: "GET", Target: "/", Path: "/", Minor: 1,
			Host: "h", Headers: "Host: h", KeepAlive: true}},
		{"content-length", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhello", snap{Method: "POST",
			Target: "/echo", Path: "/echo", Minor: 1, Host: "h", Headers: "Host: h|Content-Length: 005",
			Body: "hello", KeepAlive: true}},
		{"content-length 0", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", snap{Method: "POST",
			Target: "/echo", Path: "/echo", Minor: 1, Host: "h", Headers: "Host: h|Content-Length: 0", KeepAlive: true}},
		{"chunked", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , Chunked\r\n\r\n" +
			"5;name=val;x=\"q\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n000\r\nTrailer: t\r\nX: y\r\n\r\n",
			snap{Method: "POST", Target: "/echo", Path: "/echo", Minor: 1, Host: "h",
				Headers: "Host: h|Transfer-Encoding: , Chunked", Body: "helloabcdefghijklmnopqrstuvwxyz",
				Chunked: true, KeepAlive: true}},
		{"chunked empty", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			snap{Method: "POST", Target: "/echo", Path: "/echo", Minor: 1, Host: "h",
				Headers: "Host: h|Transfer-Encoding: chunked", Chunked: true, KeepAlive: true}},
		{"expect", "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
			snap{Method: "POST", Target: "/echo", Path: "/echo", Minor: 1, Host: "h",
				Headers: "Host: h|Expect: 100-continue|Content-Length: 1", Body: "x", KeepAlive: true}},
		{"obs-text value", "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9 \"q\"\r\n\r\n", snap{Method: "GET",
			Target: "/", Path: "/", Minor: 1, Host: "h", Headers: "Host: h|X: caf\xc3\xa9 \"q\"", KeepAlive: true}},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", snap{Method: "GET", Target: "/", Path: "/", Minor: 1,
			Headers: "Host: ", KeepAlive: true}},
		{"long method", "MKCALENDARXXXXXXXXXX / HTTP/1.1\r\nHost: h\r\n\r\n", snap{Method: "MKCALENDARXXXXXXXXXX",
			Target: "/", Path: "/", Minor: 1, Host: "h", Headers: "Host: h", KeepAlive: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := decodeString(t, Limits{}, tt.in)
			if o.Status != 0 || len(o.Reqs) != 1 || o.Left != 0 {
				t.Fatalf("got %+v, want one request", o)
			}
			got := o.Reqs[0]
			if got.N != len(tt.in) {
				t.Errorf("n = %d, want %d", got.N, len(tt.in))
			}
			got.N, got.NHeaders = 0, 0
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseIncomplete(t *testing.T) {
	for _, in := range []string{"", "\r", "\r\n", "GET", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: h\r\n",
		"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhell",
		"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r",
		"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n"} {
		if o := decodeString(t, Limits{}, in); o.Status != 0 || len(o.Reqs) != 0 || o.Left != len(in) {
			t.Errorf("%q: got %+v, want to wait for more", in, o)
		}
	}
}

// TestLimitsExact checks each limit at its edge: at the limit is fine,
// one byte more is refused.
func TestLimitsExact(t *testing.T) {
	lim := Limits{MaxTarget: 100, MaxHead: 300, MaxFields: 3, MaxBody: 50}
	target := "/" + strings.Repeat("t", 99)
	reqLine := "GET " + target + " HTTP/1.1\r\nHost: h\r\n"
	pad := func(n int) string { // a head of exactly n bytes
		return reqLine + "X: " + strings.Repeat("p", n-len(reqLine)-7) + "\r\n\r\n"
	}
	check := func(name, in string, status int) {
		t.Helper()
		if o := decodeString(t, lim, in); o.Status != status || (status == 0) != (len(o.Reqs) == 1) {
			t.Errorf("%s: got %+v, want status %d", name, o, status)
		}
	}
	check("target at limit", reqLine+"\r\n", 0)
	check("target over limit", "GET "+target+"t HTTP/1.1\r\nHost: h\r\n\r\n", 414)
	check("head at limit", pad(300), 0)
	check("head over limit", pad(301), 431)
	check("fields at limit", reqLine+"A: 1\r\nB: 2\r\n\r\n", 0)
	check("fields over limit", reqLine+"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431)
	post := "POST /echo HTTP/1.1\r\nHost: h\r\n"
	check("body at limit", post+"Content-Length: 50\r\n\r\n"+strings.Repeat("b", 50), 0)
	check("body over limit", post+"Content-Length: 51\r\n\r\n"+strings.Repeat("b", 51), 413)
	chunked := post + "Transfer-Encoding: chunked\r\n\r\n"
	check("chunked at limit", chunked+"19\r\n"+strings.Repeat("b", 25)+"\r\n19\r\n"+strings.Repeat("b", 25)+"\r\n0\r\n\r\n", 0)
	check("chunked over limit", chunked+"19\r\n"+strings.Repeat("b", 25)+"\r\n1a\r\n"+strings.Repeat("b", 26)+"\r\n0\r\n\r\n", 413)
}

// splitInputs are streams of valid requests for the splitting tests.
var splitInputs = []string{
	get,
	"\r\nPOST /echo?q HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
	"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n" + get,
	get + "GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "HEAD /plaintext HTTP/1.1\r\nHost: h\r\n\r\n",
}

// TestSplitEverywhere feeds each stream cut in two at every byte, and one
// byte at a time, and wants what the whole stream gives.
func TestSplitEverywhere(t *testing.T) {
	for i, s := range splitInputs {
		data := []byte(s)
		want := feed(t, NewCodec(Limits{}), data)
		if want.Status != 0 || want.Left != 0 || len(want.Reqs) == 0 {
			t.Fatalf("input %d: %+v", i, want)
		}
		for cut := 0; cut <= len(data); cut++ {
			if got := feed(t, NewCodec(Limits{}), data, cut); !reflect.DeepEqual(got, want) {
				t.Fatalf("input %d cut at %d:\ngot  %+v\nwant %+v", i, cut, got, want)
			}
		}
		cuts := make([]int, len(data))
		for j := range cuts {
			cuts[j] = j
		}
		if got := feed(t, NewCodec(Limits{}), data, cuts...); !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d byte by byte:\ngot  %+v\nwant %+v", i, got, want)
		}
	}
}

// TestSplitInvalid wants a refused request refused with the same status
// however it is cut.
func TestSplitInvalid(t *testing.T) {
	for _, tt := range badRequests {
		data := []byte(tt.In)
		if len(data) > 4096 {
			continue
		}
		for cut := 0; cut <= len(data); cut++ {
			if o := feed(t, NewCodec(Limits{}), data, cut); o.Status != tt.Status {
				t.Fatalf("%s cut at %d: got %+v, want %d", tt.Name, cut, o, tt.Status)
			}
		}
	}
}

func TestPipelinedDecode(t *testing.T) {
	var b bytes.Buffer
	const n = 500
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "GET /plaintext?%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		case 1:
			body := fmt.Sprint(i)
			fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case 2:
			body := fmt.Sprint(i)
			fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		}
	}
	o := feed(t, NewCodec(Limits{}), b.Bytes(), 1000, 5000, 5001)
	if o.Status != 0 || o.Left != 0 || len(o.Reqs) != n {
		t.Fatalf("got %d requests, status %d, %d bytes left", len(o.Reqs), o.Status, o.Left)
	}
	for i, r := range o.Reqs {
		if i%3 == 0 && r.Target != fmt.Sprintf("/plaintext?%d", i) || i%3 != 0 && r.Body != fmt.Sprint(i) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
}

func TestContinueOwed(t *testing.T) {
	c := NewCodec(Limits{})
	head := "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
	if _, n, err := c.Decode([]byte(head)); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if !c.ContinueOwed() || c.ContinueOwed() {
		t.Fatal("want exactly one 100-continue owed")
	}
	if _, n, err := c.Decode([]byte(head + "hello")); n != len(head)+5 || err != nil {
		t.Fatal(n, err)
	}
	if c.ContinueOwed() {
		t.Fatal("100-continue owed after the body came")
	}
	c.Reset()
	if _, n, _ := c.Decode([]byte("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")); n != 0 || c.ContinueOwed() {
		t.Fatal("100-continue owed to an HTTP/1.0 request")
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tt := range badRequests {
		t.Run(tt.Name, func(t *testing.T) {
			o := decodeString(t, Limits{}, tt.In)
			if o.Status != tt.Status || len(o.Reqs) != 0 {
				t.Fatalf("got %+v, want status %d", o, tt.Status)
			}
		})
	}
}
