package http1

import "bytes"

// Query returns the request target's query: what follows its first '?',
// without the '?'; nil when the target has none. It is not decoded
// (net/url.ParseQuery does that, into a map). It aliases the input,
// like r's slices.
func (r *Request) Query() []byte {
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		return r.Target[i+1:]
	}
	return nil
}

// Values appends the value of every field named name (lower case; names
// match in any case) to dst, in order, and returns it: for fields a
// request may repeat, which Header reads only the first of. The values
// alias the input, like r's slices.
func (r *Request) Values(name string, dst [][]byte) [][]byte {
	for _, h := range r.Headers {
		if eqFold(h.Name, name) {
			dst = append(dst, h.Value)
		}
	}
	return dst
}

// Cookie returns the value of the first cookie called name in the
// request's Cookie fields (RFC 6265 §5.4: "a=1; b=2", in one field or
// several), with the double quotes around a quoted value removed; ok is
// false if there is none. Names match exactly. Pairs whose name is not a
// token, or whose value holds a byte a cookie value may not (a control
// character, a byte past ASCII, '"', ';' or '\'), are skipped, as
// net/http skips them. It allocates nothing; the value aliases the
// input, like r's slices.
func (r *Request) Cookie(name string) (value []byte, ok bool) {
	for _, h := range r.Headers {
		if !eqFold(h.Name, "cookie") {
			continue
		}
		for line := h.Value; len(line) > 0; {
			var pair []byte
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				pair, line = line[:i], line[i+1:]
			} else {
				pair, line = line, nil
			}
			// A parsed field value holds no CR or LF: trimming spaces and
			// tabs is net/http's trimming here.
			n, v, _ := bytes.Cut(trimOWS(pair), []byte("="))
			n = trimOWS(n)
			if !isToken(n) || string(n) != name {
				continue
			}
			if v, ok := cookieValue(v); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// cookieValue strips a cookie value's surrounding double quotes and
// checks its bytes: printable ASCII but '"', ';' and '\'.
func cookieValue(v []byte) ([]byte, bool) {
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return nil, false
		}
	}
	return v, true
}
