package main

// Inline commands: a line of blank-separated arguments, with quoting as
// Redis's sdssplitargs has it (and redis-cli uses for its input).

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// scanInline splits an inline command line into arguments the way
// Redis's sdssplitargs does, with "double" (escapes \n \r \t \b \a \xHH)
// and 'single' (escape \') quotes. It returns the argument count and
// false for unbalanced quotes. With args nil it only counts, without
// allocating; otherwise it appends the arguments to *args: plain ones
// alias line, unquoted ones are written to buf, which must have
// cap(buf) >= len(line) so that they stay put.
func scanInline(line []byte, args *[][]byte, buf []byte) (int, bool) {
	n, p := 0, 0
	out := sink{buf: buf, on: args != nil}
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return n, true
		}
		start := p
		for p < len(line) && !endsPlain(line[p]) {
			p++
		}
		if p == len(line) || line[p] != '"' && line[p] != '\'' {
			if args != nil {
				*args = append(*args, line[start:p:p])
			}
			n++
			continue
		}
		// The argument has quotes: unquote it into buf.
		from := len(out.buf)
		for _, c := range line[start:p] {
			out.put(c)
		}
		var ok bool
		if p, ok = unquote(line, p, &out); !ok {
			return n, false
		}
		if args != nil {
			*args = append(*args, out.buf[from:len(out.buf):len(out.buf)])
		}
		n++
	}
}

// endsPlain reports whether c ends a run of unquoted argument bytes.
func endsPlain(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\''
}

// sink collects unquoted bytes, or with on false drops them.
type sink struct {
	buf []byte
	on  bool
}

func (s *sink) put(c byte) {
	if s.on {
		s.buf = append(s.buf, c)
	}
}

// unquote continues an argument at line[p], which may open a quote, and
// puts its bytes until the argument ends. It returns the offset after
// the argument, and false for unbalanced quotes.
func unquote(line []byte, p int, buf *sink) (int, bool) {
	inq, insq := false, false
	for ; ; p++ {
		if p == len(line) {
			return p, !inq && !insq
		}
		c := line[p]
		switch {
		case inq:
			switch {
			case c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
				buf.put(hexVal(line[p+2])<<4 | hexVal(line[p+3]))
				p += 3
			case c == '\\' && p+1 < len(line):
				p++
				buf.put(unescape(line[p]))
			case c == '"':
				if p+1 < len(line) && !isSpace(line[p+1]) {
					return p, false
				}
				return p + 1, true
			default:
				buf.put(c)
			}
		case insq:
			switch {
			case c == '\\' && p+1 < len(line) && line[p+1] == '\'':
				p++
				buf.put('\'')
			case c == '\'':
				if p+1 < len(line) && !isSpace(line[p+1]) {
					return p, false
				}
				return p + 1, true
			default:
				buf.put(c)
			}
		default:
			switch c {
			case ' ', '\n', '\r', '\t':
				return p, true
			case '"':
				inq = true
			case '\'':
				insq = true
			default:
				buf.put(c)
			}
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
