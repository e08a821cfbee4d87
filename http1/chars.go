package http1

// Byte classes of RFC 9110 and RFC 3986, as lookup tables.
var (
	// tchar: the characters of a token (RFC 9110 §5.6.2), which method
	// names, field names and transfer codings are made of.
	tchar = class("!#$%&'*+-.^_`|~" + digits + alpha)
	// uriChar: what may appear in a request-target (RFC 3986): unreserved,
	// sub-delims, the gen-delims but '#' (no fragment is sent), and '%'
	// (whose two hex digits are checked separately).
	uriChar = class(digits + alpha + "-._~" + "!$&'()*+,;=" + ":/?[]@" + "%")
	// hostChar: what may appear in a Host field value: uri-host [":" port].
	hostChar = class(digits + alpha + "-._~" + "!$&'()*+,;=" + ":[]%")
	// fieldChar: what may appear in a field value once the surrounding
	// whitespace is trimmed (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB.
	// Every other control character, CR, LF and NUL included, is refused.
	fieldChar = fieldClass()
	// hexVal maps a hex digit to its value + 1, anything else to 0.
	hexVal = hexTable()
)

const (
	digits = "0123456789"
	alpha  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func class(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

func fieldClass() (t [256]bool) {
	for b := 0; b < 256; b++ {
		t[b] = b == '\t' || (b >= ' ' && b != 0x7f)
	}
	return t
}

func hexTable() (t [256]uint8) {
	for i := 0; i < 10; i++ {
		t['0'+i] = uint8(i + 1)
	}
	for i := 0; i < 6; i++ {
		t['a'+i] = uint8(i + 11)
		t['A'+i] = uint8(i + 11)
	}
	return t
}

// IsToken reports whether b is a non-empty RFC 9110 token: a method, a
// field name, a parameter name. For code built on the package (the
// WebSocket handshake's fields, say).
func IsToken(b []byte) bool { return isToken(b) }

// IsTokenChar reports whether c may appear in a token.
func IsTokenChar(c byte) bool { return tchar[c] }

// EqualFold reports whether b equals lower, which must be lower case,
// in any ASCII case: how field names compare.
func EqualFold(b []byte, lower string) bool { return eqFold(b, lower) }

// TrimOWS returns b without the spaces and tabs around it (RFC 9110's
// optional whitespace).
func TrimOWS(b []byte) []byte { return trimOWS(b) }

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return len(b) > 0
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// eqFold reports whether b equals lower, ignoring ASCII case; lower must
// be lower case.
func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// trimOWS drops optional whitespace (SP, HTAB) from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextElem splits the first element off a comma-separated list (RFC 9110
// §5.6.1), trimmed of whitespace; empty elements come back empty. rest is
// nil after the last element.
func nextElem(list []byte) (elem, rest []byte) {
	for i, c := range list {
		if c == ',' {
			return trimOWS(list[:i]), list[i+1:]
		}
	}
	return trimOWS(list), nil
}
