package http1

import "strconv"

// Writing responses. A response is written ready-made into a byte slice
// (the Codec's Encode copies it as is): a status line, header field
// lines, a blank line, then the body. These functions append the pieces
// and do not allocate but to grow dst; any goroutine may call them.
//
//	dst = http1.AppendStatusLine(dst, 200)
//	dst = http1.AppendField(dst, "Content-Type", "text/plain")
//	dst = http1.AppendContentLength(dst, len(body))
//	dst = append(dst, "\r\n"...) // the end of the head
//	dst = append(dst, body...)
//
// Names and values are written as given: they must be valid (a token, and
// field characters without CR or LF), which constant strings make sure
// of. Never copy a request's bytes into a field unchecked.

// ContinueResponse is the interim response a server sends when
// Codec.ContinueOwed says a client waits for it before sending its body.
const ContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n"

// AppendStatusLine appends an HTTP/1.1 status line, "HTTP/1.1 200 OK"
// and its CRLF, with the reason phrase of StatusText.
func AppendStatusLine(dst []byte, status int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(status)...)
	return append(dst, "\r\n"...)
}

// AppendField appends a header field line, "name: value" and its CRLF.
func AppendField[V ~string | ~[]byte](dst []byte, name string, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendContentLength appends a Content-Length field line for a body of
// n bytes.
func AppendContentLength(dst []byte, n int) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, "\r\n"...)
}

// DateLayout is the format of the Date field's value, IMF-fixdate (RFC
// 9110 §5.6.7), for time.Time.AppendFormat, in UTC:
//
//	dst = now.UTC().AppendFormat(dst, http1.DateLayout)
//
// Formatting it costs a few hundred nanoseconds: a server formats it once
// a second (mill.WithTicker) and shares the bytes with its loops.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"
