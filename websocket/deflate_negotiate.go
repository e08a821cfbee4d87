package websocket

import (
	"errors"
	"fmt"

	"github.com/mill-io/mill/http1"
)

// Negotiation of permessage-deflate (RFC 7692 §5, §7.1) over the
// Sec-WebSocket-Extensions fields of the opening handshake (RFC 6455
// §9.1). Everything here runs once per connection, on whichever
// goroutine performs the handshake; nothing keeps references to the
// field values it is given once it returns, except the parameters it
// reports.

// pmdName is the extension's name (compared without regard to case).
const pmdName = "permessage-deflate"

// deflateParams is what was negotiated.
type deflateParams struct {
	ourNoContext  bool // our compressor resets after every message
	peerNoContext bool // the peer's compressor resets after every message (we may drop our inflate window)
}

// Why a permessage-deflate element is refused. The server declines the
// offer quietly; the client wraps them in ErrHandshake.
var (
	errExtSyntax      = errors.New("malformed Sec-WebSocket-Extensions element")
	errPMDUnknown     = errors.New("unknown permessage-deflate parameter")
	errPMDDuplicate   = errors.New("permessage-deflate parameter given twice")
	errPMDValue       = errors.New("bad permessage-deflate parameter value")
	errPMDClientBits  = errors.New("client_max_window_bits below 15 (compress/flate always uses a 32 KiB window)")
	errPMDTwice       = errors.New("permessage-deflate accepted twice")
	errPMDNotOffered  = errors.New("extension that was not offered")
	errPMDNoCompress  = errors.New("permessage-deflate accepted though not offered")
	errPMDNeedsValue  = errors.New("client_max_window_bits without a value in a response")
	errPMDFlagHasData = errors.New("no_context_takeover parameter with a value")
)

// pmdElement is what one permessage-deflate element (an offer or a
// response) says. Window bits are 0 when the parameter is absent, -1
// for a valueless client_max_window_bits, else 8..15.
type pmdElement struct {
	serverNoContext bool
	clientNoContext bool
	serverMaxBits   int
	clientMaxBits   int
}

// negotiateServer picks the first acceptable permessage-deflate offer among the values of every
// Sec-WebSocket-Extensions field of a request (values: each field's value as sent). resp is the value of
// the response's Sec-WebSocket-Extensions field (nil when ok is false). No panics on any input.
//
// An offer is acceptable when it is well-formed, names only the four
// parameters of RFC 7692, each at most once with a valid value, and does
// not ask for a server window below 15 bits. Malformed or unacceptable
// offers are skipped, as are other extensions. cfg.Enabled false accepts
// nothing. The response declares server_no_context_takeover when we
// reset our compressor (our configuration or the client's wish), echoes
// client_no_context_takeover when the client offered it, and echoes
// server_max_window_bits=15 when the client offered that (RFC 7692
// §7.1.2.1 says accepting it means including it). resp is newly
// allocated and the caller's to keep.
func negotiateServer(values [][]byte, cfg Compression) (p deflateParams, resp []byte, ok bool) {
	if !cfg.Enabled {
		return deflateParams{}, nil, false
	}
	var buf [8]extParam
	for _, v := range values {
		for len(v) > 0 {
			var elem []byte
			elem, v = nextElement(v)
			name, params, good := parseElement(elem, buf[:0])
			if !good || name == nil || !http1.EqualFold(name, pmdName) {
				continue
			}
			o, err := parsePMD(params, true)
			if err != nil || (o.serverMaxBits != 0 && o.serverMaxBits < 15) {
				continue
			}
			p.ourNoContext = !cfg.ContextTakeover || o.serverNoContext
			p.peerNoContext = o.clientNoContext
			resp = append(make([]byte, 0, 96), pmdName...)
			if p.ourNoContext {
				resp = append(resp, "; server_no_context_takeover"...)
			}
			if o.clientNoContext {
				resp = append(resp, "; client_no_context_takeover"...)
			}
			if o.serverMaxBits == 15 {
				resp = append(resp, "; server_max_window_bits=15"...)
			}
			return p, resp, true
		}
	}
	return deflateParams{}, nil, false
}

// clientOffer is the value of the client's Sec-WebSocket-Extensions field.
//
// It is "" when cfg.Enabled is false. When we will not keep our context it
// declares client_no_context_takeover. It never offers
// client_max_window_bits: that would tell the server we can compress with
// a smaller window if it asks (RFC 7692 §7.1.2.2), which compress/flate
// cannot, and servers do ask (Python's websockets answers
// client_max_window_bits=12 by default). Nor does it ask the server to
// drop its context or shrink its window: we inflate whatever it sends.
func clientOffer(cfg Compression) string {
	switch {
	case !cfg.Enabled:
		return ""
	case cfg.ContextTakeover:
		return "permessage-deflate"
	default:
		return "permessage-deflate; client_no_context_takeover"
	}
}

// clientAccept checks the server's Sec-WebSocket-Extensions values (all fields) against our offer:
// ok false (nil error) when the server did not accept the extension; an error (wrapping ErrHandshake) when
// the response is invalid or asks what we cannot do.
//
// The response may hold at most one element, permessage-deflate, and
// only if we offered it (cfg.Enabled); its parameters must be
// well-formed, known and unique. server_max_window_bits may be any of
// 8..15 (we inflate any window). client_max_window_bits, which we never
// offer, a server must not answer (RFC 7692 §7.1.2.2); we let 15 pass,
// which asks nothing of us, and refuse a smaller window, which we could
// not honour.
func clientAccept(values [][]byte, cfg Compression) (p deflateParams, ok bool, err error) {
	var buf [8]extParam
	for _, v := range values {
		for len(v) > 0 {
			var elem []byte
			elem, v = nextElement(v)
			name, params, good := parseElement(elem, buf[:0])
			switch {
			case good && name == nil:
				continue // an empty list element
			case !good:
				return deflateParams{}, false, fmt.Errorf("%w: %w", ErrHandshake, errExtSyntax)
			case !http1.EqualFold(name, pmdName):
				return deflateParams{}, false, fmt.Errorf("%w: server answered with an %w: %.64q", ErrHandshake, errPMDNotOffered, name)
			case !cfg.Enabled:
				return deflateParams{}, false, fmt.Errorf("%w: %w", ErrHandshake, errPMDNoCompress)
			case ok:
				return deflateParams{}, false, fmt.Errorf("%w: %w", ErrHandshake, errPMDTwice)
			}
			r, perr := parsePMD(params, false)
			if perr == nil && r.clientMaxBits != 0 && r.clientMaxBits < 15 {
				perr = errPMDClientBits
			}
			if perr != nil {
				return deflateParams{}, false, fmt.Errorf("%w: %w", ErrHandshake, perr)
			}
			ok = true
			p.ourNoContext = !cfg.ContextTakeover || r.clientNoContext
			p.peerNoContext = r.serverNoContext
		}
	}
	return p, ok, nil
}

// parsePMD validates the parameters of one permessage-deflate element:
// an offer (a client's, where client_max_window_bits may lack a value)
// or a response. It checks syntax only, not what we can honour.
func parsePMD(params []extParam, offer bool) (e pmdElement, err error) {
	var seen [4]bool
	for _, pr := range params {
		var i int
		switch {
		case http1.EqualFold(pr.name, "server_no_context_takeover"):
			i = 0
		case http1.EqualFold(pr.name, "client_no_context_takeover"):
			i = 1
		case http1.EqualFold(pr.name, "server_max_window_bits"):
			i = 2
		case http1.EqualFold(pr.name, "client_max_window_bits"):
			i = 3
		default:
			return pmdElement{}, errPMDUnknown
		}
		if seen[i] {
			return pmdElement{}, errPMDDuplicate
		}
		seen[i] = true
		switch i {
		case 0, 1:
			if pr.hasValue {
				return pmdElement{}, errPMDFlagHasData
			}
			if i == 0 {
				e.serverNoContext = true
			} else {
				e.clientNoContext = true
			}
		case 2:
			bits, good := windowBits(pr)
			if !good {
				return pmdElement{}, errPMDValue
			}
			e.serverMaxBits = bits
		case 3:
			if !pr.hasValue {
				if !offer {
					return pmdElement{}, errPMDNeedsValue
				}
				e.clientMaxBits = -1
				continue
			}
			bits, good := windowBits(pr)
			if !good {
				return pmdElement{}, errPMDValue
			}
			e.clientMaxBits = bits
		}
	}
	return e, nil
}

// windowBits parses a *_max_window_bits value: RFC 7692 §7.1.2 allows
// exactly "8" to "15", without leading zeros or signs.
func windowBits(pr extParam) (int, bool) {
	v := pr.value
	if !pr.hasValue {
		return 0, false
	}
	switch {
	case len(v) == 1 && (v[0] == '8' || v[0] == '9'):
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}

// extParam is one parameter of an extension element: its name and, when
// hasValue, its value with any quoting removed. Both alias the field
// value they were parsed from, except an unescaped quoted value, which
// is a fresh slice.
type extParam struct {
	name, value []byte
	hasValue    bool
}

// nextElement splits off the first element of an extension list
// (everything before the first comma outside a quoted string) and
// returns it with the rest after that comma. An unterminated quoted
// string runs to the end of s.
func nextElement(s []byte) (elem, rest []byte) {
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\':
			i++ // skip the escaped byte
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

// parseElement parses one element of an extension list,
//
//	extension = token *( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] )
//
// with optional whitespace around it, appending its parameters to
// params. A quoted value must be a token once unquoted (RFC 6455 §9.1).
// ok is false on a syntax error. An empty (or blank) element, which
// lists may hold and which callers skip, gives a nil name and ok true.
func parseElement(elem []byte, params []extParam) (name []byte, _ []extParam, ok bool) {
	sc := extScanner{s: elem}
	sc.skipWS()
	if sc.done() {
		return nil, params, true
	}
	name = sc.token()
	if name == nil {
		return nil, params, false
	}
	for {
		sc.skipWS()
		if sc.done() {
			return name, params, true
		}
		if !sc.consume(';') {
			return nil, params, false
		}
		sc.skipWS()
		pn := sc.token()
		if pn == nil {
			return nil, params, false
		}
		pr := extParam{name: pn}
		sc.skipWS()
		if sc.consume('=') {
			sc.skipWS()
			var v []byte
			if sc.peek() == '"' {
				var good bool
				v, good = sc.quoted()
				if !good || !http1.IsToken(v) {
					return nil, params, false
				}
			} else if v = sc.token(); v == nil {
				return nil, params, false
			}
			pr.value, pr.hasValue = v, true
		}
		params = append(params, pr)
	}
}

// extScanner walks an extension element byte by byte.
type extScanner struct {
	s []byte
	i int
}

// done reports whether the element is used up.
func (sc *extScanner) done() bool { return sc.i >= len(sc.s) }

// peek returns the next byte, or 0 at the end.
func (sc *extScanner) peek() byte {
	if sc.done() {
		return 0
	}
	return sc.s[sc.i]
}

// consume skips the next byte if it is c and reports whether it did.
func (sc *extScanner) consume(c byte) bool {
	if sc.peek() == c && !sc.done() {
		sc.i++
		return true
	}
	return false
}

// skipWS skips spaces and tabs.
func (sc *extScanner) skipWS() {
	for !sc.done() && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// token returns the longest run of token characters at the cursor, or
// nil if there is none.
func (sc *extScanner) token() []byte {
	start := sc.i
	for !sc.done() && http1.IsTokenChar(sc.s[sc.i]) {
		sc.i++
	}
	if sc.i == start {
		return nil
	}
	return sc.s[start:sc.i]
}

// quoted parses a quoted-string (RFC 9110 §5.6.4) at the cursor and
// returns its content with quoted-pairs resolved: a subslice when there
// are none, else a new slice.
func (sc *extScanner) quoted() ([]byte, bool) {
	if !sc.consume('"') {
		return nil, false
	}
	start := sc.i
	var out []byte // non-nil once an escape was seen
	for !sc.done() {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			v := sc.s[start:sc.i]
			if out != nil {
				v = out
			}
			sc.i++
			return v, true
		case c == '\\':
			if sc.i+1 >= len(sc.s) || !quotedPairChar(sc.s[sc.i+1]) {
				return nil, false
			}
			if out == nil {
				out = append(make([]byte, 0, len(sc.s)-start), sc.s[start:sc.i]...)
			}
			out = append(out, sc.s[sc.i+1])
			sc.i += 2
			continue
		case !qdtextChar(c):
			return nil, false
		}
		if out != nil {
			out = append(out, c)
		}
		sc.i++
	}
	return nil, false // unterminated
}

// qdtextChar reports whether c may appear unescaped in a quoted-string.
func qdtextChar(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
}

// quotedPairChar reports whether c may follow a backslash in a
// quoted-string.
func quotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80
}
