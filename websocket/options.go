package websocket

import (
	"compress/flate"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// Defaults.
const (
	// DefaultMaxMessage is the largest message a connection accepts
	// unless WithMaxMessage says otherwise: 16 MiB.
	DefaultMaxMessage = 16 << 20
	// DefaultCloseTimeout bounds the wait for the peer's answer to our
	// close frame.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultHandshakeTimeout bounds the opening handshake: a dedicated
	// server's wait for a complete upgrade request, a client's whole
	// dial (connect, TLS handshake, response).
	DefaultHandshakeTimeout = 10 * time.Second
)

// Compression configures permessage-deflate (RFC 7692). The zero value
// (and no WithCompression) turns it off.
type Compression struct {
	// Enabled accepts (server) or offers (client) permessage-deflate.
	Enabled bool
	// Level is the compress/flate level of outgoing messages, from
	// flate.BestSpeed (1, the default when 0) to flate.BestCompression
	// (9), or flate.HuffmanOnly (-2).
	Level int
	// Threshold: outgoing messages shorter than this go uncompressed
	// (RFC 7692 lets each message choose). 0 means 128 bytes; -1
	// compresses every message.
	Threshold int
	// ContextTakeover keeps our compressor's state from message to
	// message: better ratios for many similar small messages, at the
	// price of a compressor (hundreds of KiB) held by every connection
	// for its whole life. Off, we declare no_context_takeover for our
	// side, and an idle connection holds no compressor.
	// The peer's side follows the peer's offer: if it keeps its
	// context, we must keep a 32 KiB window of what we inflated.
	// With context takeover a message mill refuses to queue (under
	// mill.FailWrite) would leave the compressor ahead of the peer, so
	// the connection then closes (StatusAbnormal, the write's error).
	ContextTakeover bool
}

func (c Compression) level() int {
	if c.Level == 0 {
		return flate.BestSpeed
	}
	return c.Level
}

func (c Compression) threshold() int {
	if c.Threshold == 0 {
		return 128
	}
	return c.Threshold
}

func (c Compression) validate() error {
	if !c.Enabled {
		return nil
	}
	if l := c.Level; l != 0 && l != flate.HuffmanOnly && (l < flate.BestSpeed || l > flate.BestCompression) {
		return fmt.Errorf("websocket: WithCompression: Level %d is not a compress/flate level (1..9, or -2)", l)
	}
	if c.Threshold < -1 {
		return fmt.Errorf("websocket: WithCompression: Threshold %d is below -1", c.Threshold)
	}
	return nil
}

// Upgrade is what a WithAccept hook sees of an upgrade request, before
// the server answers it. It is valid only during the hook.
type Upgrade struct {
	// Request is the upgrade request; its slices alias the connection's
	// input (copy what you keep).
	Request *http1.Request
	// Conn is the connection it came on.
	Conn mill.Conn
	// Protocols are the subprotocols the client offered, in its order.
	Protocols []string

	protocol string
	header   http.Header
	ctx      any
}

// SetProtocol picks the subprotocol to answer with: one of Protocols,
// or "" for none. It overrides the choice WithSubprotocols made.
func (u *Upgrade) SetProtocol(p string) { u.protocol = p }

// Protocol is the subprotocol the server will answer with so far.
func (u *Upgrade) Protocol() string { return u.protocol }

// Header returns the extra header fields of the 101 response (Set-Cookie,
// say); the handshake's own fields are added by the server. A field
// whose name is not a token or whose value holds a control character
// (a CR or LF that would inject a field) is left out of the response.
func (u *Upgrade) Header() http.Header {
	if u.header == nil {
		u.header = http.Header{}
	}
	return u.header
}

// SetContext stores the new connection's first Context value (a user id
// from a cookie, say), visible from OnOpen on.
func (u *Upgrade) SetContext(v any) { u.ctx = v }

// Refusal is an error a WithAccept hook returns to refuse an upgrade
// with a given HTTP status (any error of another type refuses with 403
// Forbidden).
type Refusal struct {
	Status int         // 4xx or 5xx
	Reason string      // the response body, a line of text
	Header http.Header // extra fields (WWW-Authenticate, Retry-After); see Upgrade.Header
}

// Error describes the refusal.
func (r *Refusal) Error() string {
	return fmt.Sprintf("websocket: upgrade refused with %d %s", r.Status, r.Reason)
}

// Option configures a Server or a Client (NewServer, NewClient). Options
// that make sense on one side only say so, and are refused on the other.
type Option func(*config) error

type config struct {
	maxMessage    int
	compression   Compression
	protocols     []string
	checkOrigin   func(r *http1.Request) bool
	accept        func(u *Upgrade) error
	pingInterval  time.Duration
	closeTimeout  time.Duration
	handshakeTime time.Duration
	httpLimits    http1.Limits
	// client only
	tlsConfig   *tls.Config
	millOptions []mill.Option
	server      bool
}

func newConfig(server bool, opts []Option) (*config, error) {
	c := &config{
		maxMessage:    DefaultMaxMessage,
		closeTimeout:  DefaultCloseTimeout,
		handshakeTime: DefaultHandshakeTimeout,
		server:        server,
	}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("websocket: nil Option"))
			continue
		}
		if err := o(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.compression.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.httpLimits = c.httpLimits.WithDefaults()
	return c, nil
}

func serverOnly(c *config, name string) error {
	if !c.server {
		return fmt.Errorf("websocket: %s is a server option", name)
	}
	return nil
}

func clientOnly(c *config, name string) error {
	if c.server {
		return fmt.Errorf("websocket: %s is a client option", name)
	}
	return nil
}

// WithMaxMessage sets the largest message a connection accepts, in
// bytes after decompression (default DefaultMaxMessage). A larger one
// closes the connection with 1009 (ErrMessageTooBig) as soon as its
// size is known: for an uncompressed message, at the frame header that
// takes it over the limit, before its payload is buffered; for a
// compressed one, when its compressed size passes the limit (plus
// 1/64 and 1 KiB for incompressible data) or as inflating passes it.
// With a StreamHandler it bounds each uncompressed frame instead.
func WithMaxMessage(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("websocket: WithMaxMessage(%d): must be positive", n)
		}
		c.maxMessage = n
		return nil
	}
}

// WithCompression accepts (server) or offers (client) permessage-deflate.
func WithCompression(cfg Compression) Option {
	return func(c *config) error {
		c.compression = cfg
		return nil
	}
}

// WithSubprotocols lists the subprotocols we speak, in order of
// preference. A server answers with the first of them the client
// offered (none if it offered none of them; a WithAccept hook may
// decide otherwise); a client offers them all.
func WithSubprotocols(protocols ...string) Option {
	return func(c *config) error {
		for _, p := range protocols {
			if !http1.IsToken([]byte(p)) {
				return fmt.Errorf("websocket: WithSubprotocols: %q is not a token", p)
			}
		}
		c.protocols = append([]string(nil), protocols...)
		return nil
	}
}

// WithCheckOrigin replaces the server's Origin check. By default a
// request with an Origin field is accepted only if the Origin's host
// and port are the request's Host's (names in any case, a trailing dot
// ignored, a missing port the default of the Origin's scheme: 80 for
// http, 443 for https), which stops other sites' pages
// from opening WebSockets with a visitor's cookies; requests without
// Origin (non-browser clients) are accepted. check returns true to
// accept; false refuses with 403. Server only.
func WithCheckOrigin(check func(r *http1.Request) bool) Option {
	return func(c *config) error {
		if err := serverOnly(c, "WithCheckOrigin"); err != nil {
			return err
		}
		if check == nil {
			return errors.New("websocket: WithCheckOrigin(nil)")
		}
		c.checkOrigin = check
		return nil
	}
}

// WithAccept sets a hook that runs on the loop for every valid upgrade
// request, after the Origin check and before the 101 response: it may
// choose the subprotocol, add response fields, store the connection's
// first context value, or refuse the upgrade by returning an error (a
// *Refusal for a given status, anything else 403). It must not block.
// Server only.
func WithAccept(accept func(u *Upgrade) error) Option {
	return func(c *config) error {
		if err := serverOnly(c, "WithAccept"); err != nil {
			return err
		}
		if accept == nil {
			return errors.New("websocket: WithAccept(nil)")
		}
		c.accept = accept
		return nil
	}
}

// WithPingInterval sends a ping after d without input from the peer,
// and closes the connection (ErrPongTimeout) if another d passes with
// nothing received. 0 (the default) sends none.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("websocket: WithPingInterval(%v): negative", d)
		}
		c.pingInterval = d
		return nil
	}
}

// WithCloseTimeout bounds the wait for the peer's close frame after we
// sent ours (default DefaultCloseTimeout); then the connection closes
// with ErrCloseTimeout.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("websocket: WithCloseTimeout(%v): must be positive", d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithHandshakeTimeout bounds the opening handshake (default
// DefaultHandshakeTimeout): on a dedicated server, the wait for a
// complete upgrade request; on a client, the whole dial: connect, TLS
// handshake and the server's response.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("websocket: WithHandshakeTimeout(%v): must be positive", d)
		}
		c.handshakeTime = d
		return nil
	}
}

// WithHTTPLimits sets the limits a dedicated server's upgrade requests
// are parsed with (default http1.DefaultLimits). Server only.
func WithHTTPLimits(l http1.Limits) Option {
	return func(c *config) error {
		if err := serverOnly(c, "WithHTTPLimits"); err != nil {
			return err
		}
		c.httpLimits = l
		return nil
	}
}

// WithTLSConfig is the TLS configuration a Client dials wss:// URLs
// with (default: the system roots, the URL's host as server name).
// Client only.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error {
		if err := clientOnly(c, "WithTLSConfig"); err != nil {
			return err
		}
		c.tlsConfig = cfg
		return nil
	}
}

// WithMillOptions passes options to the mill.Client a Client runs on
// (loops, timeouts, outbound limits, watermarks). Client only.
func WithMillOptions(opts ...mill.Option) Option {
	return func(c *config) error {
		if err := clientOnly(c, "WithMillOptions"); err != nil {
			return err
		}
		c.millOptions = append(c.millOptions, opts...)
		return nil
	}
}
