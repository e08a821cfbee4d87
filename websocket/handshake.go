package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// The GUID RFC 6455 §1.3 appends to the key.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value for key.
func acceptKey(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(keyGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// refusal is why an upgrade request is refused, and how.
type refusal struct {
	status int
	reason string
	header http.Header
}

var (
	refNotUpgrade = &refusal{status: 426, reason: "this is a WebSocket endpoint: send a WebSocket upgrade request",
		header: http.Header{"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}}
	refMethod     = &refusal{status: 405, reason: "a WebSocket upgrade is a GET request", header: http.Header{"Allow": {"GET"}}}
	refHTTP10     = &refusal{status: 400, reason: "a WebSocket upgrade needs HTTP/1.1"}
	refConnection = &refusal{status: 400, reason: "the Connection field does not name upgrade"}
	refVersion    = &refusal{status: 426, reason: "only WebSocket version 13 is supported",
		header: http.Header{"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}}
	refKey    = &refusal{status: 400, reason: "Sec-WebSocket-Key must be one base64-encoded 16-byte value"}
	refBody   = &refusal{status: 400, reason: "a WebSocket upgrade request has no body"}
	refOrigin = &refusal{status: 403, reason: "cross-origin WebSocket request refused"}
	refHook   = &refusal{status: 403, reason: "WebSocket upgrade refused"}
	refSlow   = &refusal{status: 408, reason: "the upgrade request took too long"}
)

// accepted is what a valid upgrade request leads to.
type accepted struct {
	key      []byte
	protocol string
	deflate  *deflateParams
	extResp  []byte
	header   http.Header
	ctx      any
}

// checkUpgrade judges an upgrade request by RFC 6455 §4.2.1 and the
// server's options (Origin check, subprotocols, compression, the
// WithAccept hook). Loop goroutine.
func (ep *endpoint) checkUpgrade(mc mill.Conn, r *http1.Request) (*accepted, *refusal) {
	f := scanFields(r.Headers)
	upgrade, connection, key, protocols, exts := f.upgrade, f.connection, f.key, f.protocols, f.exts
	keys, versions, version := f.keys, f.versions, f.version
	switch {
	case !upgrade:
		return nil, refNotUpgrade
	case string(r.Method) != "GET":
		return nil, refMethod
	case r.Minor < 1:
		return nil, refHTTP10
	case !connection:
		return nil, refConnection
	case versions != 1 || string(version) != "13":
		return nil, refVersion
	case keys != 1 || !validKey(key):
		return nil, refKey
	case len(r.Body) > 0 || r.Chunked:
		return nil, refBody
	}
	cfg := ep.cfg
	if cfg.checkOrigin != nil {
		if !cfg.checkOrigin(r) {
			return nil, refOrigin
		}
	} else if !sameOrigin(r) {
		return nil, refOrigin
	}
	a := &accepted{key: key}
	for _, want := range cfg.protocols {
		if slices.Contains(protocols, want) {
			a.protocol = want
			break
		}
	}
	if cfg.compression.Enabled && len(exts) > 0 {
		if p, resp, ok := negotiateServer(exts, cfg.compression); ok {
			a.deflate, a.extResp = &p, resp
		}
	}
	if cfg.accept != nil {
		u := &Upgrade{Request: r, Conn: mc, Protocols: protocols, protocol: a.protocol}
		if err := cfg.accept(u); err != nil {
			if rf, ok := err.(*Refusal); ok && rf != nil && rf.Status >= 400 && rf.Status <= 599 {
				return nil, &refusal{status: rf.Status, reason: rf.Reason, header: rf.Header}
			}
			return nil, refHook
		}
		if u.protocol != "" && !slices.Contains(protocols, u.protocol) {
			return nil, &refusal{status: 500, reason: "the server chose a subprotocol the client did not offer"}
		}
		a.protocol, a.header, a.ctx = u.protocol, u.header, u.ctx
	}
	return a, nil
}

// handshakeFields is what the fields of a handshake request or response
// say about the upgrade.
type handshakeFields struct {
	upgrade    bool // Upgrade has the token websocket
	connection bool // Connection has the token upgrade
	key        []byte
	keys       int // Sec-WebSocket-Key fields
	version    []byte
	versions   int // Sec-WebSocket-Version fields
	accept     []byte
	accepts    int // Sec-WebSocket-Accept fields
	protocols  []string
	exts       [][]byte // every Sec-WebSocket-Extensions value
}

// scanFields reads the handshake's fields from hs.
func scanFields(hs []http1.Header) (f handshakeFields) {
	for _, h := range hs {
		switch {
		case http1.EqualFold(h.Name, "upgrade"):
			f.upgrade = f.upgrade || hasToken(h.Value, "websocket")
		case http1.EqualFold(h.Name, "connection"):
			f.connection = f.connection || hasToken(h.Value, "upgrade")
		case http1.EqualFold(h.Name, "sec-websocket-key"):
			f.key, f.keys = h.Value, f.keys+1
		case http1.EqualFold(h.Name, "sec-websocket-version"):
			f.version, f.versions = h.Value, f.versions+1
		case http1.EqualFold(h.Name, "sec-websocket-accept"):
			f.accept, f.accepts = h.Value, f.accepts+1
		case http1.EqualFold(h.Name, "sec-websocket-protocol"):
			f.protocols = appendTokens(f.protocols, h.Value)
		case http1.EqualFold(h.Name, "sec-websocket-extensions"):
			f.exts = append(f.exts, h.Value)
		}
	}
	return f
}

// appendResponse appends the 101 response for a.
func (a *accepted) appendResponse(dst []byte) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, acceptKey(a.key)...)
	dst = append(dst, "\r\n"...)
	if a.protocol != "" {
		dst = http1.AppendField(dst, "Sec-WebSocket-Protocol", a.protocol)
	}
	if a.extResp != nil {
		dst = http1.AppendField(dst, "Sec-WebSocket-Extensions", a.extResp)
	}
	dst = appendFields(dst, a.header)
	return append(dst, "\r\n"...)
}

// appendResponse appends the response refusing an upgrade: the status,
// the reason as a text body, and Connection: close.
func (rf *refusal) appendResponse(dst []byte) []byte {
	dst = http1.AppendStatusLine(dst, rf.status)
	dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	dst = http1.AppendContentLength(dst, len(rf.reason)+1)
	dst = appendFields(dst, rf.header)
	dst = append(dst, "\r\n"...)
	dst = append(dst, rf.reason...)
	return append(dst, '\n')
}

// appendFields appends the fields of h whose names are tokens and whose
// values hold no control characters (others would let a value split
// the response; they are left out).
func appendFields(dst []byte, h http.Header) []byte {
	for name, vs := range h {
		if !http1.IsToken([]byte(name)) {
			continue
		}
		for _, v := range vs {
			if validValue(v) {
				dst = http1.AppendField(dst, name, v)
			}
		}
	}
	return dst
}

func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], key)
	return err == nil && n == 16
}

// sameOrigin is the default Origin check: no Origin field, or one whose
// host and port are the request's Host: host names in any case and with
// or without a trailing dot, and a missing port the default of the
// Origin's scheme (80 for http and ws, 443 for https and wss), so that
// "Origin: http://example.com" matches "Host: example.com:80".
func sameOrigin(r *http1.Request) bool {
	var origin []byte
	n := 0
	for _, h := range r.Headers {
		if http1.EqualFold(h.Name, "origin") {
			origin, n = h.Value, n+1
		}
	}
	if n == 0 {
		return true
	}
	if n > 1 {
		return false
	}
	u, err := url.Parse(string(origin))
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	var def string
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		def = "80"
	case "https", "wss":
		def = "443"
	}
	oHost, oPort := u.Hostname(), u.Port()
	hHost, hPort := splitHost(string(r.Host))
	if oPort == "" {
		oPort = def
	}
	if hPort == "" {
		hPort = def
	}
	return oPort != "" && oPort == hPort &&
		strings.EqualFold(strings.TrimSuffix(oHost, "."), strings.TrimSuffix(hHost, "."))
}

// splitHost splits a Host field's value into host (without an IPv6
// literal's brackets) and port ("" if none).
func splitHost(h string) (host, port string) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		host, port = h[:i], h[i+1:]
	} else {
		host = h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
}

// nextElem splits the first element off a comma-separated list (a
// comma inside a quoted string does not split), without the whitespace
// around it; rest is nil after the last.
func nextElem(list []byte) (elem, rest []byte) {
	elem, rest = nextElement(list)
	elem = http1.TrimOWS(elem)
	return elem, rest
}

// hasToken reports whether the list holds token (lower case) in any
// case.
func hasToken(list []byte, token string) bool {
	for list != nil {
		var e []byte
		e, list = nextElem(list)
		if http1.EqualFold(e, token) {
			return true
		}
	}
	return false
}

// appendTokens appends the list's non-empty elements.
func appendTokens(dst []string, list []byte) []string {
	for list != nil {
		var e []byte
		e, list = nextElem(list)
		if len(e) > 0 {
			dst = append(dst, string(e))
		}
	}
	return dst
}
