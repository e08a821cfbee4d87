package http1

import (
	"reflect"
	"strings"
	"testing"
)

// fuzzLimits are small, so that fuzzing reaches every limit.
var fuzzLimits = Limits{MaxTarget: 64, MaxHead: 256, MaxFields: 8, MaxBody: 512}

// FuzzRequest decodes arbitrary input, whole and in pieces. It checks the
// Decode contract (no panic, 0 <= n <= len(in), frames are in[:n], errors
// are *StatusError wrapping a codec error: see feed), that every decoded
// request respects the limits, and that the input's cutting changes
// nothing: the same requests, the same status.
//
//	go test -run '^$' -fuzz FuzzRequest -fuzztime 30s ./http1/
func FuzzRequest(f *testing.F) {
	for _, s := range splitInputs {
		f.Add([]byte(s))
	}
	for _, tt := range badRequests {
		if len(tt.In) < 512 {
			f.Add([]byte(tt.In))
		}
	}
	f.Add([]byte("GET /" + strings.Repeat("a", 70) + " HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + strings.Repeat("x", 512) + "\r\n1\r\nx\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := feed(t, NewCodec(fuzzLimits), data)
		consumed := 0
		for _, r := range whole.Reqs {
			consumed += r.N
			switch {
			case r.N <= 0:
				t.Fatalf("empty frame: %+v", r)
			case r.Method == "" || len(r.Method) > maxMethod || !isToken([]byte(r.Method)):
				t.Fatalf("method %q", r.Method)
			case r.Target == "" || len(r.Target) > fuzzLimits.MaxTarget:
				t.Fatalf("target of %d bytes", len(r.Target))
			case !strings.Contains(r.Target, r.Path) && r.Path != "/":
				t.Fatalf("path %q not in target %q", r.Path, r.Target)
			case r.NHeaders > fuzzLimits.MaxFields:
				t.Fatalf("%d header fields", r.NHeaders)
			case len(r.Body) > fuzzLimits.MaxBody:
				t.Fatalf("body of %d bytes", len(r.Body))
			case r.Minor != 0 && r.Minor != 1:
				t.Fatalf("minor version %d", r.Minor)
			case r.Minor == 1 && r.Host == "" && !strings.Contains(strings.ToLower(r.Headers), "host:"):
				t.Fatalf("HTTP/1.1 request without Host")
			}
		}
		if consumed+whole.Left != len(data) {
			t.Fatalf("consumed %d + left %d != %d", consumed, whole.Left, len(data))
		}
		n := len(data)
		if got := feed(t, NewCodec(fuzzLimits), data, n/3, 2*n/3); !sameOutcome(got, whole) {
			t.Fatalf("in 3 pieces:\ngot  %+v\nwant %+v", got, whole)
		}
		if n > 2048 {
			return
		}
		cuts := make([]int, n)
		for i := range cuts {
			cuts[i] = i
		}
		if got := feed(t, NewCodec(fuzzLimits), data, cuts...); !sameOutcome(got, whole) {
			t.Fatalf("byte by byte:\ngot  %+v\nwant %+v", got, whole)
		}
	})
}

// sameOutcome compares outcomes; a refusal may come sooner in one than in
// the other, so what was left then does not count.
func sameOutcome(a, b outcome) bool {
	if a.Status != 0 {
		a.Left, b.Left = 0, 0
	}
	return reflect.DeepEqual(a, b)
}
