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
// Authorization...; the handshake's own fields in header are ignored)
// and waits for the server's 101 response, at most until ctx ends or
// WithHandshakeTimeout passes, which bounds it all: the connect, the TLS
// handshake and the response. The Handler's OnOpen has
// run for the connection by the time Dial returns it (and OnMessage may
// have too). A refused handshake is a *HandshakeError (errors.Is
// ErrHandshake). Any goroutine but the client's loops: there it returns
// mill.ErrOnEventLoop at once.
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
	d.req = cl.request(u, d.key, header)
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

// request makes the upgrade request.
func (cl *Client) request(u *url.URL, key string, header http.Header) []byte {
	target := u.RequestURI()
	b := make([]byte, 0, 256)
	b = append(b, "GET "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
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
	h := http.Header{}
	for name, vs := range header {
		if !ownField(name) {
			h[name] = vs
		}
	}
	b = appendFields(b, h)
	return append(b, "\r\n"...)
}

// ownField reports whether name is a field the handshake sets itself.
func ownField(name string) bool {
	for _, own := range []string{"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
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
	c := h.cl.ep.open(mc, protocol, dp, nil)
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
		return "", nil, &HandshakeError{Status: r.status, Reason: "the server did not switch protocols"}
	}
	f := scanFields(r.fields)
	upgrade, connection, accept, accepts, protocols, exts := f.upgrade, f.connection, f.accept, f.accepts, f.protocols, f.exts
	fail := func(why string) (string, *deflateParams, error) {
		return "", nil, &HandshakeError{Status: 101, Reason: why}
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
func (h clientHandler) OnWritabilityChanged(mc mill.Conn, writable bool) {
	if c, ok := mc.Context().(*Conn); ok && h.cl.ep.wr != nil && c.state != stateClosed {
		h.cl.ep.wr.OnWritabilityChanged(c, writable)
	}
}
