package websocket

import (
	"bytes"
	"net/http"
	"net/textproto"

	"github.com/mill-io/mill/http1"
)

// maxResponseHead bounds a handshake response's head.
const maxResponseHead = 16 << 10

// response is a parsed handshake response head. Its slices alias the
// input it was parsed from.
type response struct {
	status int
	fields []http1.Header
}

// header copies r's fields into an http.Header (canonical names, values
// in order).
func (r *response) header() http.Header {
	h := make(http.Header, len(r.fields))
	for _, f := range r.fields {
		name := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[name] = append(h[name], string(f.Value))
	}
	return h
}

// parseResponse parses the HTTP/1.1 response head at the start of in
// (RFC 9112: status line, field lines, each ending in CRLF, then an
// empty line). n is the head's length, 0 if it is not all there yet.
// A malformed or oversized head is a *HandshakeError.
func parseResponse(in []byte) (r *response, n int, err error) {
	end := bytes.Index(in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(in) > maxResponseHead {
			return nil, 0, &HandshakeError{Reason: "response head over 16 KiB"}
		}
		return nil, 0, nil
	}
	if end+4 > maxResponseHead {
		return nil, 0, &HandshakeError{Reason: "response head over 16 KiB"}
	}
	head := in[:end+2]
	line, rest := cutLine(head)
	status, ok := statusCode(line)
	if !ok {
		return nil, 0, &HandshakeError{Reason: "malformed status line"}
	}
	r = &response{status: status}
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		colon := bytes.IndexByte(line, ':')
		if colon < 0 || !http1.IsToken(line[:colon]) {
			return nil, 0, &HandshakeError{Status: status, Reason: "malformed header field"}
		}
		v := http1.TrimOWS(line[colon+1:])
		if !validValue(string(v)) {
			return nil, 0, &HandshakeError{Status: status, Reason: "control character in a header field"}
		}
		r.fields = append(r.fields, http1.Header{Name: line[:colon], Value: v})
	}
	return r, end + 4, nil
}

// cutLine splits off the first CRLF-terminated line of b (b ends in
// CRLF); a bare LF or CR inside is left in the line, to be refused.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	return b[:i], b[i+2:]
}

// statusCode parses "HTTP/1.1 101 Switching Protocols" (the reason may
// be empty).
func statusCode(line []byte) (int, bool) {
	if len(line) < 12 || string(line[:9]) != "HTTP/1.1 " {
		return 0, false
	}
	d := line[9:12]
	if d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' {
		return 0, false
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, false
	}
	for _, c := range line[12:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return 0, false
		}
	}
	return int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0'), true
}
