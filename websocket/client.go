package websocket

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// Client dials WebSocket servers (ws:// and wss:// URLs) and serves the
// connections on the event loops of its own mill.Client, with the same
// Handler and Conn API as a Server's connections (our frames are masked,
// as RFC 6455 requires of a client, with a fresh key from math/rand/v2's
// ChaCha8 generator for each frame).
type Client struct {
	ep  *endpoint
	mcl *mill.Client
	set connSet
}

// NewClient makes a Client for h and starts its mill.Client (options for
// it go through WithMillOptions). It fails, naming the option, for an
// invalid or server-only option.
func NewClient(h Handler, opts ...Option) (*Client, error) {
	if h == nil {
		return nil, errNilHandler
	}
	cfg, err := newConfig(false, opts)
	if err != nil {
		return nil, err
	}
	cl := &Client{ep: newEndpoint(cfg, h, true)}
	cl.ep.set = &cl.set
	mcl, err := mill.NewClient(clientHandler{cl}, cfg.millOptions...)
	if err != nil {
		return nil, err
	}
	if err := mcl.Start(); err != nil {
		return nil, err
	}
	cl.mcl = mcl
	return cl, nil
}

// Stop shuts the client down like mill.Client.Stop: every connection
// gets a close frame with 1001 (going away), then connections are
// drained and closed. Any goroutine but the client's loops.
func (cl *Client) Stop(ctx context.Context) error { return cl.mcl.Stop(ctx) }

// MillClient is the mill.Client underneath, for its Stats.
func (cl *Client) MillClient() *mill.Client { return cl.mcl }

// dialing is a client connection until its handshake is done.
type dialing struct {
	req   []byte
	key   string
	start time.Time
	done  chan dialResult

	mu        sync.Mutex
	mc        mill.Conn
	cancelled bool
	delivered bool
}

type dialResult struct {
	c   *Conn
	err error
}

// Dial connects to rawURL (ws://host[:port]/path?query or wss://...),
// sends the upgrade request (with header's fields added: Origin, Cookie,
// Authorization...; a Host field replaces the URL's host in the request,
// for a virtual host behind an address, while TLS still names the URL's
// host unless WithTLSConfig's ServerName says otherwise) and waits for
// the server's 101 response, at most until ctx ends or
// WithHandshakeTimeout passes, which bounds it all: the connect, the TLS
// handshake and the response. The Handler's OnOpen has run for the
// connection by the time Dial returns it (and OnMessage may have too). A refused handshake is a *HandshakeError (errors.Is
// ErrHandshake). A query is sent percent-encoded where the URL left
// bytes a request line cannot carry (a space, a control character). A
// field of header with an invalid name or value, or one the handshake
// sets itself (Upgrade, Connection, Sec-WebSocket-*: see
// WithSubprotocols and WithCompression), fails the Dial, naming it. Any
// goroutine but the client's loops: there it returns mill.ErrOnEventLoop
// at once.
func (cl *Client) Dial(ctx context.Context, rawURL string, header http.Header) (*Conn, error) {
	if ctx == nil {
		return nil, errors.New("websocket: Dial with a nil Context")
	}
	if cl.mcl.OnLoop() {
		return nil, fmt.Errorf("%w: websocket Dial on one of the client's own loops would wait for itself; dial from another goroutine", mill.ErrOnEventLoop)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket: Dial: %w", err)
	}
	var secure bool
	switch u.Scheme {
	case "ws":
	case "wss":
		secure = true
	default:
		return nil, fmt.Errorf("websocket: Dial %q: the scheme must be ws or wss", rawURL)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("websocket: Dial %q: a WebSocket URL has no fragment", rawURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("websocket: Dial %q: user information in the URL is not sent; use an Authorization field", rawURL)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("websocket: Dial %q: no host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	addr := net.JoinHostPort(host, port)
	var keyBytes [16]byte
	_, _ = rand.Read(keyBytes[:])
	d := &dialing{key: base64.StdEncoding.EncodeToString(keyBytes[:]), done: make(chan dialResult, 1)}
	if d.req, err = cl.request(u, d.key, header); err != nil {
		return nil, fmt.Errorf("websocket: Dial %q: %w", rawURL, err)
	}
	if secure {
		cfg := cl.ep.cfg.tlsConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			// Named even when not verified: servers and balancers
			// choose the certificate and the route by SNI.
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		err = cl.mcl.DialAsyncTLS("tcp", addr, cfg, d)
	} else {
		err = cl.mcl.DialAsync("tcp", addr, d)
	}
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(cl.ep.cfg.handshakeTime)
	defer timer.Stop()
	var err2 error
	select {
	case r := <-d.done:
		return r.c, r.err
	case <-ctx.Done():
		err2 = ctx.Err()
	case <-timer.C:
		err2 = &HandshakeError{Reason: "not connected and upgraded within the handshake timeout"}
	}
	d.mu.Lock()
	if d.delivered {
		// The response is in: OnOpen is running or has run, and the
		// result follows (also if OnOpen panics).
		d.mu.Unlock()
		r := <-d.done
		return r.c, r.err
	}
	d.cancelled = true
	mc := d.mc
	d.mu.Unlock()
	if mc != nil {
		_ = mc.Close()
	}
	return nil, err2
}

// request makes the upgrade request. It fails for a field of header it
// cannot send (see Dial).
func (cl *Client) request(u *url.URL, key string, header http.Header) ([]byte, error) {
	host := u.Host
	for name, vs := range header {
		switch {
		case !http1.IsToken([]byte(name)):
			return nil, fmt.Errorf("header field name %q is not a token", name)
		case strings.EqualFold(name, "host"):
			if len(vs) != 1 || vs[0] == "" || strings.ContainsAny(vs[0], " \t") || !validValue(vs[0]) {
				return nil, fmt.Errorf("the Host field %q is not one host[:port]", vs)
			}
			host = vs[0]
			continue
		case ownField(name):
			return nil, fmt.Errorf("the handshake sets the %s field itself (subprotocols: WithSubprotocols; compression: WithCompression)", name)
		}
		for _, v := range vs {
			if !validValue(v) {
				return nil, fmt.Errorf("the value %q of header field %s holds a control character", v, name)
			}
		}
	}
	b := make([]byte, 0, 256)
	b = append(b, "GET "...)
	b = appendTarget(b, u)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\n"...)
	cfg := cl.ep.cfg
	if len(cfg.protocols) > 0 {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		for i, p := range cfg.protocols {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, p...)
		}
		b = append(b, "\r\n"...)
	}
	if cfg.compression.Enabled {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, clientOffer(cfg.compression)...)
		b = append(b, "\r\n"...)
	}
	for name, vs := range header {
		if !strings.EqualFold(name, "host") {
			for _, v := range vs {
				b = http1.AppendField(b, name, v)
			}
		}
	}
	return append(b, "\r\n"...), nil
}

// appendTarget appends u's request target: its escaped path ("/" if
// none) and its query, with every byte a query may not hold (RFC 3986
// §3.4: a space, a control character, a byte past ASCII, '"', '<', '>',
// '\\', '^', '`', '{', '|', '}', or a '%' that does not start an escape)
// percent-encoded, as browsers send it.
func appendTarget(dst []byte, u *url.URL) []byte {
	if u.Opaque != "" {
		return append(dst, u.Opaque...)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	dst = append(dst, path...)
	if u.RawQuery == "" && !u.ForceQuery {
		return dst
	}
	dst = append(dst, '?')
	q := u.RawQuery
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryByte(c) || c == '%' && i+2 < len(q) && ishex(q[i+1]) && ishex(q[i+2]) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return dst
}

// queryByte reports whether c may stand for itself in a query: an
// unreserved or sub-delim character, ':', '@', '/' or '?'.
func queryByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ownField reports whether name is a field the handshake sets itself.
func ownField(name string) bool {
	for _, own := range []string{"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
		"sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept"} {
		if strings.EqualFold(name, own) {
			return true
		}
	}
	return false
}

// clientHandler is the mill.Handler of a Client's mill.Client.
type clientHandler struct{ cl *Client }

func (clientHandler) OnBoot(*mill.Server) mill.Action { return mill.None }

// OnShutdown sends every connection a close frame with 1001 (going
// away) as the client stops (and any whose handshake completes later).
func (h clientHandler) OnShutdown(srv *mill.Server) {
	h.cl.set.goAway(srv, h.cl.ep.goingAway())
}
func (clientHandler) OnTick() (time.Duration, mill.Action) {
	return 0, mill.None
}

// OnOpen sends the upgrade request.
func (h clientHandler) OnOpen(mc mill.Conn) ([]byte, mill.Action) {
	d, ok := mc.Context().(*dialing)
	if !ok {
		return nil, mill.Close
	}
	d.mu.Lock()
	d.mc = mc
	cancelled := d.cancelled
	d.mu.Unlock()
	if cancelled {
		return nil, mill.Close
	}
	d.start = time.Now()
	mc.SetQuietFunc(h.cl.ep.cfg.handshakeTime, h.expired)
	return d.req, mill.None
}

// expired fails a handshake the server has not answered in time.
func (h clientHandler) expired(mc mill.Conn) {
	if d, ok := mc.Context().(*dialing); ok {
		h.failDial(mc, d, &HandshakeError{Reason: "no response within the handshake timeout"})
	}
}

// failDial reports a failed handshake to Dial and closes the connection.
func (h clientHandler) failDial(mc mill.Conn, d *dialing, err error) {
	mc.SetContext(nil)
	d.done <- dialResult{err: err}
	_ = mc.Close()
}

func (h clientHandler) OnTraffic(mc mill.Conn) mill.Action {
	switch x := mc.Context().(type) {
	case *Conn:
		return x.onTraffic()
	case *dialing:
		return h.response(mc, x)
	}
	mc.Discard(-1)
	return mill.None
}

// response reads the server's handshake response. Loop goroutine.
func (h clientHandler) response(mc mill.Conn, d *dialing) mill.Action {
	in, _ := mc.Peek(-1)
	resp, n, err := parseResponse(in)
	if err != nil {
		h.failDial(mc, d, err)
		return mill.None
	}
	if n == 0 {
		left := h.cl.ep.cfg.handshakeTime - time.Since(d.start)
		if left <= 0 {
			h.failDial(mc, d, &HandshakeError{Reason: "no complete response within the handshake timeout"})
		} else {
			mc.SetQuietFunc(left, h.expired) // counted from the start, not the last byte
		}
		return mill.None
	}
	protocol, dp, err := h.cl.checkResponse(resp, d.key)
	if err != nil {
		h.failDial(mc, d, err)
		return mill.None
	}
	mc.Discard(n)
	d.mu.Lock()
	if d.cancelled {
		d.mu.Unlock()
		mc.SetContext(nil)
		return mill.Close
	}
	d.delivered = true
	d.mu.Unlock()
	sent := false
	defer func() {
		if !sent { // OnOpen panicked: mill closes the connection
			d.done <- dialResult{err: fmt.Errorf("%w: the handler's OnOpen panicked", ErrHandshake)}
		}
	}()
	c := h.cl.ep.open(mc, protocol, dp, nil, resp.header())
	d.done <- dialResult{c: c}
	sent = true
	if mc.InboundBuffered() > 0 && c.state == stateOpen {
		return c.onTraffic()
	}
	return mill.None
}

// checkResponse judges the server's response by RFC 6455 §4.1.
func (cl *Client) checkResponse(r *response, key string) (string, *deflateParams, error) {
	if r.status != 101 {
		return "", nil, &HandshakeError{Status: r.status, Reason: "the server did not switch protocols", Header: r.header()}
	}
	f := scanFields(r.fields)
	upgrade, connection, accept, accepts, protocols, exts := f.upgrade, f.connection, f.accept, f.accepts, f.protocols, f.exts
	fail := func(why string) (string, *deflateParams, error) {
		return "", nil, &HandshakeError{Status: 101, Reason: why, Header: r.header()}
	}
	switch {
	case !upgrade:
		return fail("no Upgrade: websocket")
	case !connection:
		return fail("no Connection: upgrade")
	case accepts != 1 || string(accept) != acceptKey([]byte(key)):
		return fail("Sec-WebSocket-Accept does not match the key")
	case len(protocols) > 1:
		return fail("more than one subprotocol chosen")
	case len(protocols) == 1 && !slices.Contains(cl.ep.cfg.protocols, protocols[0]):
		return fail("a subprotocol we did not offer")
	}
	protocol := ""
	if len(protocols) == 1 {
		protocol = protocols[0]
	}
	if len(exts) == 0 {
		return protocol, nil, nil
	}
	if !cl.ep.cfg.compression.Enabled {
		return fail("an extension we did not offer")
	}
	p, ok, err := clientAccept(exts, cl.ep.cfg.compression)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return protocol, nil, nil
	}
	return protocol, &p, nil
}

func (h clientHandler) OnClose(mc mill.Conn, err error) mill.Action {
	switch x := mc.Context().(type) {
	case *Conn:
		x.closed(err)
	case *dialing:
		if err == nil {
			err = &HandshakeError{Reason: "the connection closed before the response"}
		}
		x.done <- dialResult{err: err}
	}
	return mill.None
}

// OnWritabilityChanged relays mill's event to a WritabilityHandler.
func (h clientHandler) OnWritabilityChanged(mc mill.Conn, writable bool) { writability(mc, writable) }
