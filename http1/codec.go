package http1

import (
	"strconv"

	"github.com/mill-io/mill/codec"
)

// Limits bound what one request may use. A zero (or negative) field
// takes its default, from DefaultLimits.
type Limits struct {
	MaxTarget int // request-target bytes; longer: 414 (default 8 KiB)
	MaxHead   int // request line + header fields + blank line; longer: 431 (default 16 KiB)
	MaxFields int // header field lines; more: 431 (default 128)
	MaxBody   int // body bytes (after de-chunking); more: 413 (default 1 MiB)
}

// DefaultLimits are the limits of a zero Limits. Do not modify it.
var DefaultLimits = Limits{MaxTarget: 8 << 10, MaxHead: 16 << 10, MaxFields: 128, MaxBody: 1 << 20}

// MaxRequest is the most bytes one request within these limits can take
// on the wire, and so the most input a connection buffers for it: a head
// of MaxHead, then a body of MaxBody, which chunked may take twice (its
// framing, size lines and extensions, may take as much as its data) and
// is followed by a trailer section of up to MaxHead; a size line still
// incomplete may run maxChunkLine past that. Anything longer is refused
// (413, 414 or 431) before it is all buffered.
func (l Limits) MaxRequest() int {
	l = l.WithDefaults()
	return 2*l.MaxHead + 2*l.MaxBody + maxChunkLine
}

// WithDefaults returns l with every zero or negative field set to its
// default: the limits a Codec made with l enforces.
func (l Limits) WithDefaults() Limits {
	if l.MaxTarget <= 0 {
		l.MaxTarget = DefaultLimits.MaxTarget
	}
	if l.MaxHead <= 0 {
		l.MaxHead = DefaultLimits.MaxHead
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultLimits.MaxBody
	}
	return l
}

// StatusError is a request the server refuses: the status to answer
// with (400, 413, 414, 431, 501 or 505), and why, as a short sentence
// fit for the response's body. It wraps codec.ErrFrameTooLong for the
// limits (413, 414, 431) and codec.ErrCorruptFrame for everything else.
//
// The errors are shared values, read-only: do not modify one. After one,
// the connection cannot be read further (the request's end is unknown):
// answer with Status and close.
type StatusError struct {
	Status int
	Reason string
	kind   error
}

func (e *StatusError) Error() string {
	return "http: " + strconv.Itoa(e.Status) + " " + StatusText(e.Status) + ": " + e.Reason
}

// Unwrap returns codec.ErrFrameTooLong or codec.ErrCorruptFrame.
func (e *StatusError) Unwrap() error { return e.kind }

func bad(reason string) *StatusError {
	return &StatusError{Status: 400, Reason: reason, kind: codec.ErrCorruptFrame}
}

func tooLong(status int, reason string) *StatusError {
	return &StatusError{Status: status, Reason: reason, kind: codec.ErrFrameTooLong}
}

// The errors Decode returns. They are shared, so failing costs nothing.
var (
	errBareLF        = bad("line not terminated by CRLF")
	errRequestLine   = bad("malformed request line")
	errMethod        = bad("invalid method")
	errTarget        = bad("invalid request-target")
	errVersion       = bad("malformed HTTP version")
	errFieldName     = bad("invalid header field name")
	errSpaceColon    = bad("whitespace between field name and colon")
	errObsFold       = bad("obsolete line folding")
	errFieldValue    = bad("invalid header field value")
	errNoHost        = bad("missing Host header")
	errManyHosts     = bad("more than one Host header")
	errBadHost       = bad("invalid Host header")
	errBadLength     = bad("invalid Content-Length")
	errDupLength     = bad("more than one Content-Length")
	errLengthAndTE   = bad("both Content-Length and Transfer-Encoding")
	errTE10          = bad("Transfer-Encoding in an HTTP/1.0 request")
	errBadTE         = bad("invalid Transfer-Encoding")
	errChunkSize     = bad("invalid chunk size line")
	errChunkEnd      = bad("chunk data not followed by CRLF")
	errTargetLong    = tooLong(414, "request-target too long")
	errHeadLarge     = tooLong(431, "header section too large")
	errManyFields    = tooLong(431, "too many header fields")
	errTrailersLarge = tooLong(431, "trailer section too large")
	errBodyLarge     = tooLong(413, "request body too large")
	errMethodLong    = &StatusError{Status: 501, Reason: "method not implemented", kind: codec.ErrCorruptFrame}
	errCoding        = &StatusError{Status: 501, Reason: "unsupported transfer coding", kind: codec.ErrCorruptFrame}
	errHTTPVersion   = &StatusError{Status: 505, Reason: "only HTTP/1.0 and HTTP/1.1 are supported", kind: codec.ErrCorruptFrame}
)

// Header is one header field line: its name as sent, and its value
// without the whitespace around it. Both slices alias the connection's
// input, like those of Request.
type Header struct {
	Name, Value []byte
}

// Request is a decoded request. Its slices alias the input given to
// Decode or Parse (the chunked body aside, which is de-chunked into the
// codec's own buffer): in a mill handler, the connection's input, so
// they are valid until the callback that decoded the request returns and
// at most until the next call to Decode, Parse or Reset. Copy what must
// outlive them. Do not modify them.
type Request struct {
	Method    []byte
	Target    []byte   // as sent
	Path      []byte   // Target's path, without the query; "/" for "http://host"
	Minor     int      // HTTP/1.Minor: 0 or 1 (HTTP/1.2 and up are read as 1.1)
	Headers   []Header // the header fields, in order (trailer fields are dropped)
	Host      []byte   // the Host field's value; nil without a Host header
	Body      []byte
	Chunked   bool // the body came chunked
	KeepAlive bool // the connection may carry another request after this one
}

type stage uint8

const (
	stStart     stage = iota // skipping empty lines before the request line
	stLine                   // request line
	stFields                 // header fields
	stBody                   // a Content-Length body
	stChunkSize              // chunk-size line
	stChunkData              // chunk data
	stChunkEnd               // CRLF after chunk data
	stTrailers               // trailer section
	stDone                   // the request ends at pos
)

// field locates one header field line in the input.
type field struct{ ns, ne, vs, ve int }

// Codec is a codec.Codec for HTTP/1.1 requests: each frame is one whole
// request (head and body), parsed and validated; Req describes it.
//
// A Codec keeps state between calls, so each connection needs its own,
// used by one goroutine at a time (in a mill handler, the connection's
// event loop: keep it in the connection's context). Make one with
// NewCodec, or Init one embedded in a larger struct; a zero Codec
// enforces DefaultLimits. It
// relies on the Decode contract: after an incomplete result, the next
// input starts with the same bytes. It remembers how far it got (as
// offsets, since the input may move) and parses no byte twice, but for
// one more pass over a head that the fast path (fast.go) found incomplete.
type Codec struct {
	Req Request // the request Decode or Parse completed last

	lim    Limits
	err    *StatusError // sticky: the stream is dead
	fields []field
	body   []byte
	parseState
}

// parseState is how far the codec got in the current request. It holds
// no pointers, so forgetting it is a plain clear.
type parseState struct {
	stg  stage
	pos  int // first unparsed byte
	scan int // where the search for the next LF resumes

	start, mEnd, tEnd int // method: in[start:mEnd], target: in[mEnd+1:tEnd]
	rl, phase         int // how far scanLine got, and in which part
	pathS, pathE      int
	slashPath         bool // absolute-form target with an empty path
	minor             int
	hosts             int
	hostS, hostE      int

	clSeen, teSeen, chunked, otherCoding bool
	connClose, connKeepAlive, expect     bool

	length    int   // Content-Length
	bodyStart int   // first byte after the head
	bodyLen   int   // de-chunked bytes so far
	chunkLeft int   // data bytes left in the current chunk
	trailers  int   // first byte of the trailer section
	cont      uint8 // 100-continue: 0 not due, 1 owed, 2 sent
}

// maxKeptBody is the largest de-chunking buffer kept for the next request.
const maxKeptBody = 64 << 10

// NewCodec returns a codec enforcing lim (zero fields: defaults).
func NewCodec(lim Limits) *Codec {
	return &Codec{lim: lim.WithDefaults()}
}

// Init readies c for a new stream, enforcing lim (zero fields: defaults),
// and drops its buffers: for a Codec embedded in a larger struct, as
// NewCodec is for one on its own.
func (c *Codec) Init(lim Limits) {
	*c = Codec{lim: lim.WithDefaults()}
}

// Limits returns the limits c enforces, defaults filled in.
func (c *Codec) Limits() Limits { return c.lim.WithDefaults() }

// Parse is Decode without the frame, for a handler that runs the codec
// over the connection's input itself (as the http example does, to answer
// pipelined requests in one batch): it returns the length n of the
// complete request at the start of in, described by Req, or 0 if the
// request has not all arrived (call again with the same bytes and more),
// or why it is refused. After an error it only repeats that error.
//
// Parse does not allocate once the codec's buffers have grown to the
// connection's requests (header fields, a chunked body).
func (c *Codec) Parse(in []byte) (n int, err *StatusError) { return c.decode(in) }

// Decode implements codec.Decoder. A complete request is returned as the
// frame, with Req describing it; a refused one as a *StatusError, after
// which the codec only repeats that error.
func (c *Codec) Decode(in []byte) ([]byte, int, error) {
	n, err := c.decode(in)
	switch {
	case err != nil:
		return nil, 0, err
	case n == 0:
		return nil, 0, nil
	}
	return in[:n:n], n, nil
}

// decodeParse is decode after the fast path: parse goes on from where the
// codec stands (after a handover, from the blank line the fast path
// reached).
func (c *Codec) decodeParse(in []byte, handedOver bool) (int, *StatusError) {
	if c.err != nil {
		return 0, c.err
	}
	if c.lim.MaxHead == 0 { // a zero Codec (the fast path gave up on it)
		c.lim = DefaultLimits
	}
	if !handedOver && len(in) < max(c.pos, c.scan, c.rl) { // not the input we saw: start over
		c.next()
	}
	n, err := c.parse(in)
	if err != nil {
		c.err = err
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	c.build(in)
	c.next()
	return n, nil
}

// Encode implements codec.Encoder: responses are written ready-made (see
// AppendStatusLine), so a frame is copied as is.
func (c *Codec) Encode(dst, frame []byte) ([]byte, error) {
	return append(dst, frame...), nil
}

// ContinueOwed reports, once per request, that the request asked for
// "100-continue" and its body is still awaited: the server should send
// an interim 100 (Continue) response now.
func (c *Codec) ContinueOwed() bool {
	if c.cont == 1 {
		c.cont = 2
		return true
	}
	return false
}

// Reset makes the codec ready for a new stream, keeping its limits and
// buffers.
func (c *Codec) Reset() {
	c.err = nil
	c.next()
}

// next forgets the request just parsed, keeping the buffers.
func (c *Codec) next() {
	c.fields = c.fields[:0]
	if cap(c.body) > maxKeptBody {
		c.body = nil
	} else {
		c.body = c.body[:0]
	}
	c.parseState = parseState{}
}

var slash = []byte("/")

// build fills Req for the request that parse completed in in.
func (c *Codec) build(in []byte) {
	r := &c.Req
	r.Method = in[c.start:c.mEnd:c.mEnd]
	r.Target = in[c.mEnd+1 : c.tEnd : c.tEnd]
	if c.slashPath {
		r.Path = slash[:1:1]
	} else {
		r.Path = in[c.pathS:c.pathE:c.pathE]
	}
	r.Minor = c.minor
	c.headers(in)
	r.Host = nil
	if c.hosts > 0 {
		r.Host = in[c.hostS:c.hostE:c.hostE]
	}
	r.Chunked = c.teSeen
	switch {
	case c.teSeen:
		r.Body = c.body[:c.bodyLen:c.bodyLen]
	case c.length > 0:
		r.Body = in[c.bodyStart : c.bodyStart+c.length : c.bodyStart+c.length]
	default:
		r.Body = nil
	}
	if c.minor == 0 {
		r.KeepAlive = c.connKeepAlive && !c.connClose
	} else {
		r.KeepAlive = !c.connClose
	}
}

// headers sets Req.Headers from fields.
func (c *Codec) headers(in []byte) {
	hs := c.Req.Headers[:0]
	if cap(hs) < len(c.fields) {
		hs = make([]Header, 0, max(len(c.fields), 2*cap(hs)))
	}
	hs = hs[:len(c.fields)]
	for i := range c.fields {
		f, h := &c.fields[i], &hs[i] // field by field: no temporary to copy
		h.Name = in[f.ns:f.ne:f.ne]
		h.Value = in[f.vs:f.ve:f.ve]
	}
	c.Req.Headers = hs
}

// Header returns the value of the first field named name, which must be
// lower case (names match in any case), or nil. It aliases the input,
// like r's slices.
func (r *Request) Header(name string) []byte {
	for _, h := range r.Headers {
		if eqFold(h.Name, name) {
			return h.Value
		}
	}
	return nil
}

// StatusText returns the reason phrase of an HTTP status code (RFC 9110
// §15), or "Unknown" for a code it does not know.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 417:
		return "Expectation Failed"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Unknown"
}
