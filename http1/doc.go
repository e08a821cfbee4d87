// Package http1 parses HTTP/1.1 requests and writes responses, for
// servers on mill: a validating, incremental request parser packaged as a
// mill codec (one request per frame), and the pieces of a response head.
// It depends on the standard library and mill's codec package only.
//
// Parsing follows RFC 9112 and RFC 9110 strictly, where lenience would
// open the door to request smuggling: lines end in CRLF, no whitespace
// before a field's colon, no obs-fold, one Host field (required in
// HTTP/1.1), one Content-Length, never Content-Length with
// Transfer-Encoding, chunked as the only transfer coding. A request it
// refuses comes back as a *StatusError holding the status to answer
// with: 400 (malformed), 413 (body over Limits.MaxBody), 414 (target over
// MaxTarget), 431 (head over MaxHead, or more than MaxFields fields), 501
// (unknown transfer coding, method over 20 bytes), 505 (not HTTP/1.x).
// Every limit is checked before the bytes it bounds are all buffered, so
// a connection buffers at most Limits.MaxRequest bytes for one request.
//
// Bodies are Content-Length or chunked (de-chunked into the codec's
// buffer; chunk extensions and trailer fields are checked, then dropped).
// Keep-alive follows the version and the Connection field, and a request
// that sent "Expect: 100-continue" makes Codec.ContinueOwed true until its
// body arrives.
//
// # Use with mill
//
// Either make a Codec in OnOpen, install it with Conn.SetCodec and keep
// it in the connection's context too (the handler needs it for Req and
// ContinueOwed), and read requests with Conn.ReadFrame; or, faster, keep a Codec in the connection's
// context and run Codec.Parse over all of the buffered input in
// OnTraffic, answering every complete request in one write (pipelining)
// and consuming them with one Conn.Discard, as examples/http does.
//
// A Codec belongs to one connection and is used by one goroutine at a
// time, the connection's event loop. The Request it decodes aliases the
// input it was given: in OnTraffic, the connection's buffered input, so
// the Request's slices are valid until OnTraffic returns (and until the
// next Decode, Parse or Reset). Copy what must outlive them; hand a copy,
// never the slices, to another goroutine.
//
// # Speed
//
// A new request that has all arrived and is plainly valid (origin-form
// target, HTTP/1.0 or HTTP/1.1, well-formed fields) is parsed in one pass
// by a fast path; anything else goes to the incremental parser, which
// decides every status, so both judge each request the same way
// (FuzzRequest checks, feeding each input whole, in pieces, and byte by
// byte). Once the codec's buffers have grown to a connection's requests,
// Decode and Parse do not allocate.
//
// # Responses
//
// Responses are written ready-made into a byte slice: AppendStatusLine,
// AppendField, AppendContentLength and a final CRLF, then the body.
// StatusText gives the reason phrase of a status, DateLayout the Date
// field's format, ContinueResponse the interim 100 (Continue) response.
package http1
