package http1

import (
	"bytes"
	"encoding/binary"
)

// Header fields (RFC 9112 §5) and the ones that frame the message or
// steer the connection: Host, Content-Length, Transfer-Encoding,
// Connection, Expect.

// fieldLine parses the next header field line, or the blank line that
// ends the head.
func (c *Codec) fieldLine(in []byte) (bool, *StatusError) {
	if c.scan <= c.pos { // nothing of the line seen yet
		if more, err, ok := c.quickFields(in); ok {
			return more, err
		}
	}
	end, next, bare := c.line(in)
	switch {
	case next == 0 && len(in) > c.lim.MaxHead, next > c.lim.MaxHead:
		return false, errHeadLarge
	case next == 0:
		return false, nil
	case bare:
		return false, errBareLF
	case end == c.pos:
		c.pos, c.bodyStart = next, next
		return true, c.endHead()
	}
	nameEnd, vs, ve, err := checkField(in[c.pos:end])
	if err != nil {
		return false, err
	}
	if len(c.fields) == c.lim.MaxFields {
		return false, errManyFields
	}
	f := field{ns: c.pos, ne: c.pos + nameEnd, vs: c.pos + vs, ve: c.pos + ve}
	c.fields = append(c.fields, f)
	c.pos = next
	return true, c.semantics(in[f.ns:f.ne], in[f.vs:f.ve], f)
}

// quickFields is the fast path of fieldLine: it takes, in one pass over
// each line, the field lines that have arrived whole and are plainly
// valid (token, colon, value of field characters, CRLF, within the
// limits), and the blank line that ends the head. It leaves the codec as
// fieldLine would have. ok is false if it stopped at a line it does not
// take as is (incomplete, invalid, unusual): fieldLine then judges that
// line itself, so errors come out exactly as before.
func (c *Codec) quickFields(in []byte) (more bool, err *StatusError, ok bool) {
	head := min(len(in), c.lim.MaxHead) // no line may end past it
	for pos := c.pos; ; {
		if pos+2 <= head && in[pos] == '\r' && in[pos+1] == '\n' {
			c.pos, c.scan, c.bodyStart = pos+2, pos+2, pos+2
			return true, c.endHead(), true
		}
		i := pos
		for i < head && tchar[in[i]] {
			i++
		}
		if i == pos || i >= head || in[i] != ':' || len(c.fields) == c.lim.MaxFields {
			return false, nil, false
		}
		nameEnd := i
		i++
		for i < head && (in[i] == ' ' || in[i] == '\t') {
			i++
		}
		vs := i
		i = valueEnd(in, i, head)
		if i+2 > head || in[i] != '\r' || in[i+1] != '\n' {
			return false, nil, false
		}
		ve := i
		for ve > vs && (in[ve-1] == ' ' || in[ve-1] == '\t') {
			ve--
		}
		f := field{ns: pos, ne: nameEnd, vs: vs, ve: ve}
		c.fields = append(c.fields, f)
		pos = i + 2
		c.pos, c.scan = pos, pos
		if err := c.semantics(in[f.ns:f.ne], in[f.vs:f.ve], f); err != nil {
			return false, err, true
		}
	}
}

// valueEnd returns the index of the first byte of in[i:n] that may not
// be in a field value (see fieldChar), or n. It takes eight bytes at a
// time while none of them is a control character (HTAB included, which
// the byte loop then judges) or DEL.
func valueEnd(in []byte, i, n int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for {
		for ; i+8 <= n; i += 8 {
			w := binary.LittleEndian.Uint64(in[i:])
			d := w ^ 0x7f*ones                             // a DEL byte is now 0
			if ((w-0x20*ones)&^w|(d-ones)&^d)&highs != 0 { // a byte < 0x20, or 0
				break
			}
		}
		for j := min(i+8, n); i < j; i++ {
			if !fieldChar[in[i]] {
				return i
			}
		}
		if i >= n {
			return n
		}
	}
}

// checkField checks a field line (RFC 9112 §5): name, colon, value. The
// value is in[vs:ve], without the whitespace around it.
func checkField(b []byte) (nameEnd, vs, ve int, err *StatusError) {
	if b[0] == ' ' || b[0] == '\t' {
		return 0, 0, 0, errObsFold
	}
	i := 0
	for i < len(b) && tchar[b[i]] {
		i++
	}
	switch {
	case i == len(b):
		return 0, 0, 0, errFieldName
	case b[i] == ' ' || b[i] == '\t':
		return 0, 0, 0, errSpaceColon
	case b[i] != ':' || i == 0:
		return 0, 0, 0, errFieldName
	}
	vs = i + 1
	for vs < len(b) && (b[vs] == ' ' || b[vs] == '\t') {
		vs++
	}
	ve = len(b)
	for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
		ve--
	}
	for _, x := range b[vs:ve] {
		if !fieldChar[x] {
			return 0, 0, 0, errFieldValue
		}
	}
	return i, vs, ve, nil
}

// semantics acts on the fields that frame the message or the connection.
func (c *Codec) semantics(name, v []byte, f field) *StatusError {
	switch len(name) { // most fields are none of these: skip them quickly
	case len("host"), len("expect"), len("connection"), len("content-length"), len("transfer-encoding"):
	default:
		return nil
	}
	switch {
	case eqFold(name, "host"):
		c.hosts++
		if c.hosts > 1 {
			return errManyHosts
		}
		for _, x := range v {
			if !hostChar[x] {
				return errBadHost
			}
		}
		c.hostS, c.hostE = f.vs, f.ve
	case eqFold(name, "content-length"):
		if c.clSeen {
			return errDupLength
		}
		c.clSeen = true
		if len(v) == 0 {
			return errBadLength
		}
		n := 0
		for _, x := range v {
			if !isDigit(x) {
				return errBadLength
			}
			n = min(n*10+int(x-'0'), c.lim.MaxBody+1) // saturate: no overflow
		}
		c.length = n
	case eqFold(name, "transfer-encoding"):
		c.teSeen = true
		for rest := v; rest != nil; {
			var elem []byte
			if elem, rest = nextElem(rest); len(elem) == 0 {
				continue
			}
			coding, params := elem, false
			if i := bytes.IndexByte(elem, ';'); i >= 0 {
				coding, params = trimOWS(elem[:i]), true
			}
			switch {
			case !isToken(coding):
				return errBadTE
			case !eqFold(coding, "chunked"):
				c.otherCoding = true
			case params || c.chunked:
				return errBadTE // chunked takes no parameters and is applied once
			default:
				c.chunked = true
			}
		}
	case eqFold(name, "connection"):
		for rest := v; rest != nil; {
			var elem []byte
			elem, rest = nextElem(rest)
			c.connClose = c.connClose || eqFold(elem, "close")
			c.connKeepAlive = c.connKeepAlive || eqFold(elem, "keep-alive")
		}
	case eqFold(name, "expect"):
		c.expect = c.expect || eqFold(v, "100-continue")
	}
	return nil
}

// endHead decides, once the head is complete, how the body is framed
// (RFC 9112 §6.3).
func (c *Codec) endHead() *StatusError {
	switch {
	case c.minor == 1 && c.hosts == 0:
		return errNoHost
	case c.teSeen && c.clSeen:
		return errLengthAndTE
	case c.teSeen && c.minor == 0:
		return errTE10
	case c.teSeen && c.otherCoding:
		return errCoding
	case c.teSeen && !c.chunked:
		return errBadTE
	case c.teSeen:
		c.scan, c.stg = c.pos, stChunkSize
	case c.length > c.lim.MaxBody:
		return errBodyLarge
	case c.length > 0:
		c.stg = stBody
	default:
		c.stg = stDone
	}
	return nil
}

// owe notes that the client may be waiting for 100 (Continue) before it
// sends the body (RFC 9110 §10.1.1; ignored in HTTP/1.0).
func (c *Codec) owe() {
	if c.expect && c.minor == 1 && c.cont == 0 {
		c.cont = 1
	}
}
