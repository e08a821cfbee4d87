package http1

import (
	"net/http"
	"strings"
	"testing"
)

// parsed parses one whole request, failing the test otherwise.
func parsed(t testing.TB, req string) *Request {
	t.Helper()
	c := NewCodec(Limits{})
	in := []byte(req)
	if n, err := c.Parse(in); n != len(in) || err != nil {
		t.Fatalf("%q: %d, %v", req, n, err)
	}
	return &c.Req
}

func TestQueryAndValues(t *testing.T) {
	for _, c := range []struct{ target, query string }{
		{"/chat?room=1&name=ann", "room=1&name=ann"},
		{"/chat?", ""},
		{"/chat", "<nil>"},
		{"http://h/p?a=b?c", "a=b?c"},
		{"*", "<nil>"},
	} {
		method := "GET"
		if c.target == "*" {
			method = "OPTIONS"
		}
		r := parsed(t, method+" "+c.target+" HTTP/1.1\r\nHost: h\r\n\r\n")
		got := string(r.Query())
		if r.Query() == nil {
			got = "<nil>"
		}
		if got != c.query {
			t.Errorf("%s: Query %q, want %q", c.target, got, c.query)
		}
	}
	r := parsed(t, "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\nX-A: 4\r\n\r\n")
	var vs []string
	for _, v := range r.Values("x-a", nil) {
		vs = append(vs, string(v))
	}
	if strings.Join(vs, ",") != "1,2,4" || r.Values("x-none", nil) != nil {
		t.Errorf("Values %q", vs)
	}
}

func TestCookie(t *testing.T) {
	r := parsed(t, "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; session=\"xyz\"; b = 2 ;empty=\r\n"+
		"Cookie: bad name=x; c=has space; d=no\\pe; session=second\r\n\r\n")
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"a", "1", true},
		{"session", "xyz", true}, // the first, quotes removed
		{"b", " 2", true},        // as net/http: the name trimmed, the value not
		{"empty", "", true},
		{"c", "has space", true},
		{"d", "", false}, // a backslash: skipped
		{"bad name", "", false},
		{"A", "", false}, // names match exactly
		{"missing", "", false},
	} {
		v, ok := r.Cookie(c.name)
		if ok != c.ok || string(v) != c.want {
			t.Errorf("Cookie(%q) = %q, %v; want %q, %v", c.name, v, ok, c.want, c.ok)
		}
	}
	var dst [4][]byte
	if allocs := testing.AllocsPerRun(100, func() { r.Cookie("session"); r.Query(); r.Values("cookie", dst[:0]) }); allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

// FuzzCookie: Cookie agrees with net/http's reading of the same Cookie
// fields, for the names they hold.
func FuzzCookie(f *testing.F) {
	f.Add("a=1; b=2", "c=\"3\"", "b")
	f.Add(" x = \"q\" ;y=\\;", "", "x")
	f.Add("n=v;;n=w", "n=\x01", "n")
	f.Fuzz(func(t *testing.T, line1, line2, name string) {
		var fields []string
		for _, l := range []string{line1, line2} {
			// What a parsed field value can be: no CR, LF or NUL, no
			// surrounding whitespace.
			if strings.ContainsAny(l, "\r\n\x00") || strings.TrimSpace(l) != l || l == "" {
				continue
			}
			fields = append(fields, l)
		}
		req := "GET / HTTP/1.1\r\nHost: h\r\n"
		for _, l := range fields {
			req += "Cookie: " + l + "\r\n"
		}
		c := NewCodec(Limits{})
		in := []byte(req + "\r\n")
		if n, err := c.Parse(in); n != len(in) || err != nil {
			return // a field the parser refuses
		}
		hr := &http.Request{Header: http.Header{}}
		for _, h := range c.Req.Headers {
			if eqFold(h.Name, "cookie") {
				hr.Header.Add("Cookie", string(h.Value))
			}
		}
		got, ok := c.Req.Cookie(name)
		want, err := hr.Cookie(name)
		if ok != (err == nil) || ok && string(got) != want.Value {
			t.Fatalf("Cookie(%q) in %q: %q, %v; net/http: %+v, %v", name, fields, got, ok, want, err)
		}
	})
}
