package main

import (
	"strconv"

	"github.com/mill-io/mill/codec"
)

// Limits bound what one request may use. A zero field takes its default.
type Limits struct {
	MaxTarget int // request-target bytes; longer: 414 (default 8 KiB)
	MaxHead   int // request line + header fields + blank line; longer: 431 (default 16 KiB)
	MaxFields int // header field lines; more: 431 (default 128)
	MaxBody   int // body bytes (after de-chunking); more: 413 (default 1 MiB)
}

// DefaultLimits are the limits of a zero Limits.
var DefaultLimits = Limits{MaxTarget: 8 << 10, MaxHead: 16 << 10, MaxFields: 128, MaxBody: 1 << 20}

// MaxRequest is the most bytes one request within these limits can take
// on the wire, and so the most input a connection buffers for it: a head
// of MaxHead, then a body of MaxBody, which chunked may take twice (its
// framing, size lines and extensions, may take as much as its data) and
// is followed by a trailer section of up to MaxHead; a size line still
// incomplete may run maxChunkLine past that. Anything longer is refused
// (413, 414 or 431) before it is all buffered.
func (l Limits) MaxRequest() int {
	l = l.withDefaults()
	return 2*l.MaxHead + 2*l.MaxBody + maxChunkLine
}

func (l Limits) withDefaults() Limits {
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
// with, and why. It wraps codec.ErrFrameTooLong for the limits (413,
// 414, 431) and codec.ErrCorruptFrame for everything else.
type StatusError struct {
	Status int
	Reason string
	kind   error
}

func (e *StatusError) Error() string {
	return "http: " + strconv.Itoa(e.Status) + " " + statusText(e.Status) + ": " + e.Reason
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

// Header is one header field line, both slices aliasing the frame.
type Header struct {
	Name, Value []byte
}

// Request is a decoded request. Its slices alias the frame (the chunked
// body aside, which is de-chunked into the codec's own buffer) and are
// valid until the next call to Decode.
type Request struct {
	Method    []byte
	Target    []byte // as sent
	Path      []byte // Target's path, without the query; "/" for "http://host"
	Minor     int    // HTTP/1.Minor: 0 or 1 (HTTP/1.2 and up are read as 1.1)
	Headers   []Header
	Host      []byte // nil without a Host header
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
// A Codec keeps state between calls, so each connection needs its own. It
// relies on the Decode contract: after an incomplete result, the next
// input starts with the same bytes. It remembers how far it got (as
// offsets, since the input may move) and parses no byte twice, but for
// one more pass over a head that the fast path (fast.go) found incomplete.
type Codec struct {
	Req Request // the request of the last frame Decode returned

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
	return &Codec{lim: lim.withDefaults()}
}

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

// Encode implements codec.Encoder: responses are written ready-made, so a
// frame is copied as is.
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

// Reset makes the codec ready for a new stream.
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

// Header returns the value of the first field named name (lower case),
// or nil.
func (r *Request) Header(name string) []byte {
	for _, h := range r.Headers {
		if eqFold(h.Name, name) {
			return h.Value
		}
	}
	return nil
}

func statusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Unknown"
}
