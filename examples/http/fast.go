package main

import (
	"encoding/binary"
)

// The fast path. Decode first tries quick, which parses a request that
// has arrived whole and is plainly valid in one pass, left to right, with
// one tight loop per part over the character tables, and builds Req
// straight from what it found. Anything it does not take as is (an
// incomplete head, anything invalid, a limit reached, a request-target
// other than origin-form, a version other than HTTP/1.0 and HTTP/1.1)
// makes it give up without a trace: the incremental parser then reads
// the request from its start and decides, so statuses and limits stay
// exactly those of parse. A head with Transfer-Encoding or Expect, or a
// body that has not all arrived, is handed over to parse just before
// the blank line, in the state parse would have reached there.
//
// FuzzRequest compares whole inputs (the fast path) with the same bytes
// fed in pieces and one byte at a time (parse).

// quick outcomes.
const (
	quickNo       = iota // not taken: parse from the start
	quickDone            // a whole request, n bytes, Req built
	quickHandover        // the head is parsed: parse goes on from the state set
)

// uriPlain is uriChar without '%' and '?', which the target loop treats
// apart.
var uriPlain = func() (t [256]bool) {
	t = uriChar
	t['%'], t['?'] = false, false
	return t
}()

// quick is Decode's fast path, for a codec in its initial state.
func (c *Codec) quick(in []byte) (n, outcome int) {
	h := in[:min(len(in), c.lim.MaxHead)] // the head: no line may end past it

	// Request line: method SP origin-form SP HTTP/1.x CRLF.
	mEnd := tokenEnd(h[:min(len(h), maxMethod)], 0)
	if mEnd == 0 || len(h)-mEnd < 2 || h[mEnd] != ' ' || h[mEnd+1] != '/' {
		return 0, quickNo
	}
	ts := mEnd + 1
	tEnd, query := targetEnd(h[:min(len(h), ts+c.lim.MaxTarget)], ts)
	pathEnd := tEnd
	if query >= 0 {
		pathEnd = query
	}
	if tEnd-ts > c.lim.MaxTarget || len(h)-tEnd < 11 {
		return 0, quickNo
	}
	v := h[tEnd : tEnd+11]
	if v[0] != ' ' || v[9] != '\r' || v[10] != '\n' {
		return 0, quickNo
	}
	minor := 1
	switch binary.LittleEndian.Uint64(v[1:9]) {
	case http11:
	case http10:
		minor = 0
	default:
		return 0, quickNo
	}

	// Header fields, up to the blank line.
	pos := tEnd + 11
	fields := c.fields[:0]
	hosts, hostS, hostE := 0, 0, 0
	clSeen, length := false, 0
	connClose, connKeepAlive := false, false
	handover := false // Transfer-Encoding or Expect: parse takes over
	for {
		if len(h)-pos >= 2 && h[pos] == '\r' && h[pos+1] == '\n' {
			break
		}
		nameEnd := tokenEnd(h, pos)
		if nameEnd == pos || nameEnd == len(h) || h[nameEnd] != ':' || len(fields) == c.lim.MaxFields {
			return c.quickFail()
		}
		name := h[pos:nameEnd]
		vs := owsEnd(h, nameEnd+1)
		i, ve := 0, 0
		isHost := len(name) == len("host") && eqFold(name, "host")
		if isHost {
			// The value must be all host characters (which are field
			// characters too): one loop checks both.
			ve = hostEnd(h, vs)
			i = owsEnd(h, ve)
		} else {
			i = valueEnd(h, vs, len(h))
			ve = i
			for ve > vs && (h[ve-1] == ' ' || h[ve-1] == '\t') {
				ve--
			}
		}
		if len(h)-i < 2 || h[i] != '\r' || h[i+1] != '\n' {
			return c.quickFail()
		}
		f := field{ns: pos, ne: nameEnd, vs: vs, ve: ve}
		fields = append(fields, f)
		v := h[vs:ve]
		pos = i + 2
		switch len(name) {
		case len("host"):
			if !isHost {
				break
			}
			if hosts++; hosts > 1 {
				return c.quickFail()
			}
			hostS, hostE = vs, ve
		case len("content-length"):
			if !eqFold(name, "content-length") {
				break
			}
			if clSeen || len(v) == 0 {
				return c.quickFail()
			}
			clSeen = true
			for _, x := range v {
				if !isDigit(x) {
					return c.quickFail()
				}
				length = min(length*10+int(x-'0'), c.lim.MaxBody+1)
			}
		case len("connection"):
			if !eqFold(name, "connection") {
				break
			}
			for rest := v; rest != nil; {
				var elem []byte
				elem, rest = nextElem(rest)
				connClose = connClose || eqFold(elem, "close")
				connKeepAlive = connKeepAlive || eqFold(elem, "keep-alive")
			}
		case len("expect"), len("transfer-encoding"):
			if err := c.semantics(name, v, f); err != nil {
				return c.quickFail()
			}
			handover = handover || c.teSeen || c.expect
		}
	}
	c.fields = fields
	if minor == 1 && hosts == 0 || length > c.lim.MaxBody {
		return c.quickFail()
	}
	bodyStart := pos + 2
	if handover || len(in)-bodyStart < length {
		// parse goes on from the blank line, as if it had read up to it.
		p := &c.parseState
		p.stg, p.pos, p.scan = stFields, pos, pos
		p.mEnd, p.tEnd, p.rl, p.phase = mEnd, tEnd, tEnd+9, inVersion
		p.pathS, p.pathE, p.minor = ts, pathEnd, minor
		p.hosts, p.hostS, p.hostE = hosts, hostS, hostE
		p.clSeen, p.length = clSeen, length
		p.connClose, p.connKeepAlive = connClose, connKeepAlive
		return 0, quickHandover
	}

	// A whole request: build Req.
	n = bodyStart + length
	r := &c.Req
	r.Method = in[:mEnd:mEnd]
	r.Target = in[ts:tEnd:tEnd]
	r.Path = in[ts:pathEnd:pathEnd]
	r.Minor = minor
	c.headers(in)
	r.Host = nil
	if hosts > 0 {
		r.Host = in[hostS:hostE:hostE]
	}
	r.Chunked = false
	r.Body = nil
	if length > 0 {
		r.Body = in[bodyStart:n:n]
	}
	if minor == 0 {
		r.KeepAlive = connKeepAlive && !connClose
	} else {
		r.KeepAlive = !connClose
	}
	c.fields = c.fields[:0]
	return n, quickDone
}

// Byte tables of the scans below: 1 for a byte of the class, 0 for
// any other, so that four lookups combine with AND and one branch.
var (
	tcharTab    = byteTable(&tchar)
	hostTab     = byteTable(&hostChar)
	uriPlainTab = byteTable(&uriPlain)
)

func byteTable(class *[256]bool) (t [256]uint8) {
	for i, in := range class {
		if in {
			t[i] = 1
		}
	}
	return t
}

// runEnd returns the index of the first byte of b[i:] whose entry in t
// is 0, or len(b). It looks at four bytes per step, then byte by byte
// from the step that holds one.
func runEnd(b []byte, i int, t *[256]uint8) int {
	for ; i+4 <= len(b); i += 4 {
		if t[b[i]]&t[b[i+1]]&t[b[i+2]]&t[b[i+3]] == 0 {
			break
		}
	}
	for ; i < len(b) && t[b[i]] != 0; i++ {
	}
	return i
}

// tokenEnd returns the index of the first byte of b[i:] that is not a
// token character, or len(b).
func tokenEnd(b []byte, i int) int { return runEnd(b, i, &tcharTab) }

// hostEnd is tokenEnd for the characters of a Host value.
func hostEnd(b []byte, i int) int { return runEnd(b, i, &hostTab) }

// owsEnd skips optional whitespace (SP, HTAB) from i.
func owsEnd(b []byte, i int) int {
	for j, x := range b[i:] {
		if x != ' ' && x != '\t' {
			return i + j
		}
	}
	return len(b)
}

// targetEnd returns where the request-target starting at i ends: the
// first byte of b[i:] that may not be in one (or len(b)), and the index
// of its first '?' (or -1). A '%' must be followed by two hex digits.
func targetEnd(b []byte, i int) (end, query int) {
	query = -1
	for {
		i = runEnd(b, i, &uriPlainTab)
		switch {
		case i == len(b):
			return i, query
		case b[i] == '?':
			if query < 0 {
				query = i
			}
			i++
		case b[i] == '%' && len(b)-i > 2 && hexVal[b[i+1]] != 0 && hexVal[b[i+2]] != 0:
			i += 3
		default:
			return i, query
		}
	}
}

// quickFail gives up the fast path, leaving the codec as it found it.
func (c *Codec) quickFail() (int, int) {
	c.fields = c.fields[:0]
	c.parseState = parseState{}
	return 0, quickNo
}
