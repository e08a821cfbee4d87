package main

import "bytes"

// Header fields (RFC 9112 §5) and the ones that frame the message or
// steer the connection: Host, Content-Length, Transfer-Encoding,
// Connection, Expect.

// fieldLine parses the next header field line, or the blank line that
// ends the head.
func (c *Codec) fieldLine(in []byte) (bool, *StatusError) {
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
