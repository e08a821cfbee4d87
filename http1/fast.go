package http1

import (
	"encoding/binary"
)

// The fast path. decode (Parse, Decode without the frame) first parses a new
// request that has arrived whole and is plainly valid in one pass, left
// to right, with one tight loop per part over the character tables, and
// builds Req as it goes. Anything it does not take as is (an incomplete
// head, anything invalid, a limit reached, a request-target other than
// origin-form, a version other than HTTP/1.0 and HTTP/1.1) makes it give
// up (quickFail): the incremental parser then reads the request from its
// start and decides, so statuses and limits stay exactly those of parse.
// A head with Transfer-Encoding or Expect, or a body that has not all
// arrived, is handed over to parse just before the blank line, in the
// state parse would have reached there.
//
// The hot path is written for the compiler: the common request line and
// Host field are recognised by comparing words, no call is made until
// the request is done (a call spills every live register), and the scans
// have no bounds checks.
//
// FuzzRequest compares whole inputs (the fast path) with the same bytes
// fed in pieces and one byte at a time (parse).

// uriPlain is uriChar without '%' and '?', which the target loop treats
// apart.
var uriPlain = func() (t [256]bool) {
	t = uriChar
	t['%'], t['?'] = false, false
	return t
}()

// Little-endian words, for comparing a few bytes with one load.
const (
	mask5    = 1<<40 - 1 // the first five bytes of a word
	wordGET  = uint32('G') | 'E'<<8 | 'T'<<16 | ' '<<24
	wordPOST = uint64('P') | 'O'<<8 | 'S'<<16 | 'T'<<24 | ' '<<32
	wordHEAD = uint64('H') | 'E'<<8 | 'A'<<16 | 'D'<<24 | ' '<<32
	// wordHost is "host". ORing fold4 into a word sets the case bit of its
	// bytes, which makes 'H' and 'h' (and only they) 'h', and so on: a
	// word matches "host" in any case, and nothing else.
	wordHost = uint32('h') | 'o'<<8 | 's'<<16 | 't'<<24
	fold4    = 0x20202020
	// wordVersion is " HTTP/1.", and minor1 and minor0 are ".1\r\n" and
	// ".0\r\n": the end of a request line, from the SP after the target,
	// in two loads.
	wordVersion = uint64(' ') | 'H'<<8 | 'T'<<16 | 'T'<<24 | 'P'<<32 | '/'<<40 | '1'<<48 | '.'<<56
	minor1      = uint32('.') | '1'<<8 | '\r'<<16 | '\n'<<24
	minor0      = uint32('.') | '0'<<8 | '\r'<<16 | '\n'<<24
	crlf        = uint16('\r') | '\n'<<8
)

// decode is Parse: Decode for a handler that needs no frame. It returns the
// length of the complete request at the start of in (0 if there is none
// yet), or why it is refused. A new request takes the fast path first,
// so that a request it takes costs one call from the caller.
//
// The fast path fills Req as it goes, which keeps few values live across
// the loops (Req is only valid until the next Decode, so a fast path
// given up may leave it half done). A handover finds the offsets parse
// needs in Req.
func (c *Codec) decode(in []byte) (int, *StatusError) {
	if c.err != nil || c.stg != stStart || c.pos != 0 { // not a new request
		return c.decodeParse(in, false)
	}
	h := in[:min(len(in), c.lim.MaxHead)] // the head: no line may end past it
	r := &c.Req

	// Request line: method SP origin-form SP HTTP/1.x CRLF.
	mEnd := 0
	if len(h) >= 8 { // the common methods, with their SP, as one word
		switch w := binary.LittleEndian.Uint64(h); {
		case uint32(w) == wordGET:
			mEnd = 3
		case w&mask5 == wordPOST, w&mask5 == wordHEAD:
			mEnd = 4
		}
	}
	if mEnd == 0 {
		mEnd = tokenEnd(h[:min(len(h), maxMethod)], 0)
		if mEnd == 0 || mEnd == len(h) || h[mEnd] != ' ' {
			return c.quickFail(in)
		}
	}
	ts := mEnd + 1
	if ts >= len(h) || h[ts] != '/' {
		return c.quickFail(in)
	}
	// The target may not run past MaxTarget: t ends there.
	t := h[:min(len(h), ts+c.lim.MaxTarget)]
	tEnd, query := runEnd(t, ts, &uriPlainTab), -1
	if tEnd < len(t) && t[tEnd] != ' ' { // a '?' or a '%': the rest in a call
		tEnd, query = targetEnd(t, tEnd)
	}
	pathEnd := tEnd
	if query >= 0 {
		pathEnd = query
	}
	if len(h)-tEnd < 11 || binary.LittleEndian.Uint64(h[tEnd:]) != wordVersion {
		return c.quickFail(in)
	}
	switch binary.LittleEndian.Uint32(h[tEnd+7:]) {
	case minor1:
		r.Minor = 1
	case minor0:
		r.Minor = 0
	default:
		return c.quickFail(in)
	}
	r.Method = h[:mEnd:mEnd]
	r.Target = h[ts:tEnd:tEnd]
	r.Path = h[ts:pathEnd:pathEnd]

	// Header fields, up to the blank line, straight into Req.Headers. The
	// loop takes Host fields itself, and any other field line in a call:
	// fewer values to juggle in the common case.
	pos := tEnd + 11
	r.Headers = r.Headers[:0]
	host := false     // a Host field was seen: a second one is refused
	semantic := false // semantics was called: parseState is not clear
	for {
		// The line's first bytes, as one word: the blank line, or "Host:".
		// (Two loads of the same bytes would be compiled byte by byte.)
		var w uint64
		switch {
		case len(h)-pos >= 8:
			w = binary.LittleEndian.Uint64(h[pos:])
		case len(h)-pos >= 2: // too short for a Host line and the blank line
			w = uint64(binary.LittleEndian.Uint16(h[pos:]))
		default:
			return c.quickFail(in)
		}
		if uint16(w) == crlf {
			break
		}
		if uint32(w)|fold4 != wordHost || byte(w>>32) != ':' {
			next, sem := c.quickField(h, pos)
			if next == 0 {
				return c.quickFail(in)
			}
			pos, semantic = next, semantic || sem
			continue
		}
		// The value must be all host characters (which are field
		// characters too): one loop checks both.
		vs := owsEnd(h, pos+len("host:"))
		ve := hostEnd(h, vs)
		i := owsEnd(h, ve)
		if host || len(h)-i < 2 || binary.LittleEndian.Uint16(h[i:]) != crlf {
			return c.quickFail(in)
		}
		hd := c.nextHeader()
		if hd == nil {
			return c.quickFail(in)
		}
		hd.Name, hd.Value = h[pos:pos+4:pos+4], h[vs:ve:ve]
		r.Host, host = hd.Value, true
		pos = i + 2
	}
	if !host {
		if r.Minor == 1 {
			return c.quickFail(in)
		}
		if r.Host != nil { // (a test is cheaper than storing a pointer)
			r.Host = nil
		}
	}
	r.Chunked = false
	if semantic {
		return c.quickEnd(in, pos)
	}
	// No Content-Length, Transfer-Encoding, Expect or Connection field: no
	// body, and the version's default persistence.
	if r.Body != nil {
		r.Body = nil
	}
	r.KeepAlive = r.Minor == 1
	return pos + 2, nil
}

// quickField takes a field line other than Host at pos, for the fast
// path: it returns where the next line starts, and whether the field went
// through semantics, or 0 to give up.
func (c *Codec) quickField(h []byte, pos int) (next int, semantic bool) {
	nameEnd := tokenEnd(h, pos)
	if nameEnd == pos || nameEnd == len(h) || h[nameEnd] != ':' {
		return 0, false
	}
	vs := owsEnd(h, nameEnd+1)
	i := valueEnd(h, vs, len(h))
	if len(h)-i < 2 || h[i] != '\r' || h[i+1] != '\n' {
		return 0, false
	}
	ve := i
	for ve > vs && (h[ve-1] == ' ' || h[ve-1] == '\t') {
		ve--
	}
	hd := c.nextHeader()
	if hd == nil {
		return 0, false
	}
	hd.Name, hd.Value = h[pos:nameEnd:nameEnd], h[vs:ve:ve]
	switch nameEnd - pos {
	case len("host"):
		// A Host field decode did not recognise as one: the line is too
		// near the end of the head to leave room for the blank line.
		if eqFold(hd.Name, "host") {
			return 0, false
		}
	case len("expect"), len("connection"), len("content-length"), len("transfer-encoding"):
		if c.semantics(hd.Name, hd.Value, field{}) != nil {
			return 0, false
		}
		return i + 2, true
	}
	return i + 2, false
}

// nextHeader appends a Header to Req.Headers and returns it, or nil if
// MaxFields are there already. It only stores the new length (and the
// Header is then set field by field: a Header built on the stack would be
// copied with a store-forwarding stall).
func (c *Codec) nextHeader() *Header {
	k := len(c.Req.Headers)
	if k == c.lim.MaxFields {
		return nil
	}
	if k == cap(c.Req.Headers) {
		c.growHeaders()
	}
	c.Req.Headers = c.Req.Headers[:k+1]
	return &c.Req.Headers[k]
}

func (c *Codec) growHeaders() {
	c.Req.Headers = append(c.Req.Headers, Header{})[:len(c.Req.Headers)]
}

// quickEnd ends the fast path when semantics found a framing or
// connection field.
func (c *Codec) quickEnd(in []byte, pos int) (int, *StatusError) {
	r, p := &c.Req, &c.parseState
	if p.length > c.lim.MaxBody {
		return c.quickFail(in)
	}
	bodyStart := pos + 2
	if p.teSeen || p.expect || len(in)-bodyStart < p.length {
		c.handover(in, pos)
		return c.decodeParse(in, true)
	}
	n := bodyStart + p.length
	r.Body = nil
	if p.length > 0 {
		r.Body = in[bodyStart:n:n]
	}
	if r.Minor == 0 {
		r.KeepAlive = p.connKeepAlive && !p.connClose
	} else {
		r.KeepAlive = !p.connClose
	}
	*p = parseState{}
	return n, nil
}

// handover sets the codec as parse would have left it on reaching the
// blank line at pos, from what the fast path put in Req (semantics has
// already noted its findings in parseState).
func (c *Codec) handover(in []byte, pos int) {
	r, p := &c.Req, &c.parseState
	p.stg, p.pos, p.scan = stFields, pos, pos
	p.mEnd = len(r.Method)
	p.pathS, p.pathE = p.mEnd+1, p.mEnd+1+len(r.Path)
	p.tEnd = p.mEnd + 1 + len(r.Target)
	p.rl, p.phase = p.tEnd+9, inVersion
	p.minor = r.Minor
	// The field lines are known to be well formed: name, colon, OWS,
	// value, OWS, CRLF, so the lengths of name and value locate them.
	at := p.tEnd + 11
	for k := range r.Headers {
		hd := &r.Headers[k]
		ne := at + len(hd.Name)
		vs := owsEnd(in, ne+1)
		ve := vs + len(hd.Value)
		c.fields = append(c.fields, field{ns: at, ne: ne, vs: vs, ve: ve})
		if ne-at == len("host") && eqFold(hd.Name, "host") {
			p.hosts, p.hostS, p.hostE = 1, vs, ve // the only one
		}
		at = owsEnd(in, ve) + 2
	}
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
// from the step that holds one. With i known not to be negative, the
// loop conditions prove every index in bounds: no bounds checks.
func runEnd(b []byte, i int, t *[256]uint8) int {
	if i < 0 {
		return i
	}
	for i < len(b)-3 && t[b[i]]&t[b[i+1]]&t[b[i+2]]&t[b[i+3]] != 0 {
		i += 4
	}
	for uint(i) < uint(len(b)) && t[b[i]] != 0 {
		i++
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
	for uint(i) < uint(len(b)) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
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

// quickFail gives up the fast path: parse reads the request from its
// start.
func (c *Codec) quickFail(in []byte) (int, *StatusError) {
	c.fields = c.fields[:0]
	c.parseState = parseState{}
	return c.decodeParse(in, false)
}
