package http1

import (
	"bytes"
	"encoding/binary"
)

// Parsing follows RFC 9112 strictly; the choices where it allows several:
//
//   - Lines end in CRLF. A bare LF (which §2.2 lets a recipient accept) and
//     a bare CR are refused with 400: lenient line endings are a request
//     smuggling vector when a proxy parses them differently.
//   - Empty lines before the request line are skipped (§2.2), within the
//     head limit.
//   - The request line is method SP request-target SP HTTP-version, one SP
//     each. A version that is well formed but not HTTP/1.x gets 505;
//     HTTP/1.2 and later minors are read as HTTP/1.1 (RFC 9110 §2.5).
//   - Whitespace before a field's colon, obs-fold and whitespace before
//     the first field are refused with 400 (§5.1, §5.2, §2.2).
//   - One Host field is required in HTTP/1.1 (RFC 9112 §3.2); two are 400.

// maxMethod is the longest method accepted; longer gets 501 (§3).
const maxMethod = 20

// parse advances through in and returns the length of the complete
// request at its start, 0 if it is not complete yet, or why it is refused.
func (c *Codec) parse(in []byte) (int, *StatusError) {
	for {
		more, err := true, (*StatusError)(nil)
		switch c.stg {
		case stStart:
			more, err = c.skipEmptyLines(in)
		case stLine:
			more, err = c.requestLine(in)
		case stFields:
			more, err = c.fieldLine(in)
		case stBody:
			if more = len(in)-c.pos >= c.length; more {
				c.pos += c.length
				c.stg = stDone
			}
		case stChunkSize:
			more, err = c.chunkSizeLine(in)
		case stChunkData:
			more = c.chunkData(in)
		case stChunkEnd:
			more, err = c.chunkEnd(in)
		case stTrailers:
			more, err = c.trailerLine(in)
		case stDone:
			return c.pos, nil
		}
		if err != nil {
			return 0, err
		}
		if !more {
			if c.stg >= stBody && c.stg < stTrailers {
				c.owe()
			}
			return 0, nil
		}
	}
}

// skipEmptyLines skips the empty lines a request may start with.
func (c *Codec) skipEmptyLines(in []byte) (bool, *StatusError) {
	for c.pos+1 < len(in) && in[c.pos] == '\r' && in[c.pos+1] == '\n' {
		c.pos += 2
	}
	switch {
	case c.pos >= c.lim.MaxHead: // no room left for a request line
		return false, errHeadLarge
	case c.pos == len(in) || c.pos+1 == len(in) && in[c.pos] == '\r':
		return false, nil
	case in[c.pos] == '\r' || in[c.pos] == '\n':
		return false, errBareLF
	}
	c.start, c.scan, c.stg = c.pos, c.pos, stLine
	return true, nil
}

// line finds the end of the line starting at pos: end is where its line
// terminator starts and next where the following line starts, or next is
// 0 if the line is not complete yet. bare reports a LF without CR.
//
// Callers check the limits before bare and the line's content, and check
// the limits of an incomplete line on len(in): then a request is judged
// the same whether it arrives at once or in pieces (FuzzRequest checks).
func (c *Codec) line(in []byte) (end, next int, bare bool) {
	from := max(c.scan, c.pos)
	i := bytes.IndexByte(in[from:], '\n')
	if i < 0 {
		c.scan = len(in)
		return 0, 0, false
	}
	lf := from + i
	c.scan = lf + 1
	if lf == c.pos || in[lf-1] != '\r' {
		return lf, lf + 1, true
	}
	return lf - 1, lf + 1, false
}

// partialLine checks the part of a request line received so far, to
// refuse garbage and overlong targets before the line ends. Only the
// first MaxHead+1 bytes count: past them the head is too large anyway.
func (c *Codec) partialLine(in []byte) *StatusError {
	if err := c.scanLine(in, min(len(in), c.lim.MaxHead+1), false); err != nil {
		return err
	}
	if len(in) > c.lim.MaxHead {
		return errHeadLarge
	}
	return nil
}

// Phases of scanLine.
const (
	inMethod = iota
	inTarget
	inVersion
)

// scanLine checks the request line in[start:end] left to right, going on
// from where the last call stopped, so that each byte is looked at once
// however the line trickles in. If complete, end is where the line's CRLF
// starts; otherwise more may follow, and the scan stops before what it
// cannot judge yet: a '%' without its two hex digits, a final CR. It sets
// mEnd and tEnd.
func (c *Codec) scanLine(in []byte, end int, complete bool) *StatusError {
	i := max(c.rl, c.start)
	for ; i < end; i++ {
		x := in[i]
		if x == '\r' && i == end-1 && !complete {
			break // perhaps the CR of CRLF
		}
		switch c.phase {
		case inMethod:
			switch {
			case tchar[x] && i-c.start == maxMethod:
				return errMethodLong
			case tchar[x]:
			case x != ' ' || i == c.start:
				return errMethod
			default:
				c.mEnd, c.phase = i, inTarget
			}
		case inTarget:
			switch {
			case x == ' ' && i == c.mEnd+1:
				return errTarget
			case x == ' ':
				c.tEnd, c.phase = i, inVersion
			case i-c.mEnd-1 == c.lim.MaxTarget:
				return errTargetLong
			case !uriChar[x]:
				return errTarget
			case x == '%' && i+2 >= end && !complete:
				c.rl = i
				return nil // wait for the hex digits
			case x == '%' && (i+2 >= end || hexVal[in[i+1]] == 0 || hexVal[in[i+2]] == 0):
				return errTarget
			}
		case inVersion:
			const form = "HTTP/0.0"
			j := i - c.tEnd - 1
			if j >= len(form) || form[j] == '0' && !isDigit(x) || form[j] != '0' && x != form[j] {
				return errVersion
			}
		}
	}
	c.rl = i
	switch {
	case !complete:
		return nil
	case c.phase != inVersion:
		return errRequestLine
	case end-c.tEnd-1 != len("HTTP/0.0"):
		return errVersion
	}
	return nil
}

// requestLine parses the request line once it is complete, and checks
// what has come of it so far otherwise.
func (c *Codec) requestLine(in []byte) (bool, *StatusError) {
	if c.rl <= c.start && c.scan <= c.start { // nothing of the line seen yet
		if end, ok := c.quickLine(in); ok {
			return c.lineDone(in, end, end+2)
		}
	}
	end, next, bare := c.line(in)
	switch {
	case next == 0:
		return false, c.partialLine(in)
	case next > c.lim.MaxHead:
		return false, c.partialLine(in[:next])
	case bare:
		if err := c.scanLine(in, end, false); err != nil {
			return false, err
		}
		return false, errBareLF
	}
	if err := c.scanLine(in, end, true); err != nil {
		return false, err
	}
	return c.lineDone(in, end, next)
}

// http11 and http10 are "HTTP/1.1" and "HTTP/1.0" as little-endian words.
const (
	http11 = uint64('H') | uint64('T')<<8 | uint64('T')<<16 | uint64('P')<<24 |
		uint64('/')<<32 | uint64('1')<<40 | uint64('.')<<48 | uint64('1')<<56
	http10 = http11&^(0xff<<56) | uint64('0')<<56
)

// quickLine is the fast path of requestLine for a request line that has
// arrived whole and is plainly valid: a short token method, an
// origin-form-like target within the limits, "HTTP/1.1" or "HTTP/1.0",
// CRLF, all within the head limit. It does one tight loop per part and
// sets what scanLine would have set. Anything else (incomplete, invalid,
// unusual) returns !ok without changing the codec: scanLine then judges
// the line, so errors come out exactly as before.
func (c *Codec) quickLine(in []byte) (end int, ok bool) {
	s := c.start
	i := s
	for n := min(len(in), s+maxMethod); i < n && tchar[in[i]]; i++ {
	}
	if i == s || i >= len(in) || in[i] != ' ' {
		return 0, false
	}
	mEnd := i
	i++
	ts := i
	for n := min(len(in), ts+c.lim.MaxTarget); i < n; {
		x := in[i]
		if !uriChar[x] {
			break
		}
		if x == '%' {
			if i+2 >= len(in) || hexVal[in[i+1]] == 0 || hexVal[in[i+2]] == 0 {
				return 0, false
			}
			i += 3
			continue
		}
		i++
	}
	tEnd := i
	if tEnd == ts || tEnd-ts > c.lim.MaxTarget || len(in)-tEnd < 11 || in[tEnd] != ' ' {
		return 0, false
	}
	end = tEnd + 9
	if v := binary.LittleEndian.Uint64(in[tEnd+1:]); v != http11 && v != http10 ||
		in[end] != '\r' || in[end+1] != '\n' || end+2 > c.lim.MaxHead {
		return 0, false
	}
	c.mEnd, c.tEnd, c.phase, c.rl, c.scan = mEnd, tEnd, inVersion, end, end+2
	return end, true
}

// lineDone finishes a request line that scanLine (or quickLine) found
// well formed: in[start:end] is the line, next where the fields start.
func (c *Codec) lineDone(in []byte, end, next int) (bool, *StatusError) {
	if err := c.targetForm(in[c.start:c.mEnd], in[c.mEnd+1:c.tEnd]); err != nil {
		return false, err
	}
	if major := in[end-3] - '0'; major != 1 {
		return false, errHTTPVersion
	}
	c.minor = min(int(in[end-1]-'0'), 1)
	c.pos, c.stg = next, stFields
	return true, nil
}

// targetForm checks the request-target's form (RFC 9112 §3.2) and finds
// its path. Its characters were checked by scanLine.
func (c *Codec) targetForm(method, t []byte) *StatusError {
	off := c.mEnd + 1
	switch {
	case t[0] == '/': // origin-form
		c.pathS, c.pathE = off, off+pathLen(t)
		return nil
	case len(t) == 1 && t[0] == '*': // asterisk-form
		if string(method) != "OPTIONS" {
			return errTarget
		}
		c.pathS, c.pathE = off, off+1
		return nil
	case string(method) == "CONNECT": // authority-form
		if bytes.IndexByte(t, '/') >= 0 || bytes.IndexByte(t, '?') >= 0 || bytes.IndexByte(t, ':') < 0 {
			return errTarget
		}
		c.pathS, c.pathE = off, off
		return nil
	}
	// absolute-form: scheme ":" hier-part, scheme = ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")
	i := 0
	for i < len(t) && t[i] != ':' {
		x := t[i] | 0x20
		if !(x >= 'a' && x <= 'z' || i > 0 && (isDigit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
			return errTarget
		}
		i++
	}
	if i == 0 || i == len(t) {
		return errTarget
	}
	i++
	if bytes.HasPrefix(t[i:], []byte("//")) { // skip the authority
		i += 2
		for i < len(t) && t[i] != '/' && t[i] != '?' {
			i++
		}
	}
	c.pathS, c.pathE = off+i, off+i+pathLen(t[i:])
	c.slashPath = c.pathS == c.pathE
	return nil
}

// pathLen is how much of t comes before the query.
func pathLen(t []byte) int {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return i
	}
	return len(t)
}
