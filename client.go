package mill

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/mill-io/mill/internal/socket"
)

// Client makes outgoing connections and serves them on its own event
// loops, with the same Handler callbacks and Conn API as a Server's
// connections. Connecting blocks no loop and takes no goroutine per
// connection: the loop completes each non-blocking connect. Create one
// with NewClient, then Start it; Stop shuts it down like
// Server.Shutdown. Server options apply (WithLoops, WithCodec,
// timeouts, WithDialTimeout, ...) except those about listening:
// WithAddrs makes NewClient fail, and WithReusePort, WithReuseAddr,
// WithMulticastGroup and WithMaxConns have no effect. OnBoot and
// OnShutdown receive the Server behind the client, which listens on
// nothing.
type Client struct {
	s *Server

	mu      sync.Mutex
	started bool
	served  chan error // Serve's result, once it returns
}

// NewClient creates a client for h. It fails, naming the option, for an
// invalid option. On systems without epoll or kqueue it returns
// ErrUnsupportedPlatform.
func NewClient(h Handler, opts ...Option) (*Client, error) {
	s, err := newServer(h, "", opts, true)
	if err != nil {
		return nil, err
	}
	return &Client{s: s, served: make(chan error, 1)}, nil
}

// Start starts the client's loops, and OnBoot on a goroutine it starts;
// it returns at once. It fails if called twice, and with
// ErrServerClosed after Stop. Any goroutine.
func (cl *Client) Start() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.started {
		return errors.New("mill: Client started twice")
	}
	// Serving from now on, so that a Stop right after Start shuts the
	// loops down properly rather than as a server that never started.
	if err := cl.s.begin(); err != nil {
		return err
	}
	cl.started = true
	go func() { cl.served <- cl.s.serve() }()
	return nil
}

// Stop shuts the client down as Server.Shutdown does: pending dials fail,
// connections drain until ctx ends, then everything is released. It
// returns nil, ctx.Err() if ctx ended first, or the error that broke a
// loop. Any goroutine; on one of the client's own loops it starts the
// shutdown and returns ErrOnEventLoop at once, since it cannot wait there.
func (cl *Client) Stop(ctx context.Context) error {
	if err := cl.s.Shutdown(ctx); err != nil {
		return err
	}
	cl.mu.Lock()
	started := cl.started
	cl.mu.Unlock()
	if !started {
		return nil
	}
	err := <-cl.served
	cl.served <- err // for a later Stop
	if errors.Is(err, ErrServerClosed) {
		return nil
	}
	return err
}

// OnLoop reports whether the calling goroutine is one of the client's
// event loops, where a call that waits for the client (a blocking dial)
// would wait for itself. For packages built on a Client. Any goroutine.
func (cl *Client) OnLoop() bool { return cl.s.eng.onLoop() }

// Stats returns a snapshot of the client's counters, as Server.Stats
// does. Any goroutine.
func (cl *Client) Stats() Stats { return cl.s.Stats() }

// Dial connects to address on network (tcp, tcp4, tcp6, udp, udp4, udp6
// or unix) and
// returns the connection once it is established and OnOpen has run. See
// DialContext.
func (cl *Client) Dial(network, address string) (Conn, error) {
	return cl.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network (tcp, tcp4, tcp6, udp,
// udp4, udp6 with host:port, or unix with a path; a UDP socket is
// connected to the address and served as a PacketConn). Names are
// resolved on the calling goroutine, bounded by WithDialTimeout and ctx;
// the connect itself is non-blocking and completed by the loop, which
// bounds it with WithDialTimeout and ctx. DialContext waits
// on the calling goroutine until the connection is established and
// OnOpen has run, then returns it; or returns why it failed (a
// *net.OpError wrapping, say, syscall.ECONNREFUSED, ErrDialTimeout or
// ctx.Err()), after OnClose has heard the same error; or
// ErrServerClosed once the client is stopping. If OnOpen closed the
// connection at once, it returns the Conn and ErrClosed (or the error
// it closed with, such as a *PanicError). Every connection attempt that
// got as far as a loop ends in exactly one OnClose, with or without an
// OnOpen before it. Any goroutine but the client's loops, where it
// returns ErrOnEventLoop (use DialAsync there); the client must have
// been started.
func (cl *Client) DialContext(ctx context.Context, network, address string) (Conn, error) {
	return cl.dialContext(ctx, network, address, nil)
}

// DialTLS is DialContext for TLS with cfg: once connected, the
// connection's TLS handshake runs (on a goroutine, never on a loop,
// within the client's WithTLSHandshakeTimeout and
// WithTLSHandshakeLimits), then OnOpen, and DialTLS returns the Conn,
// whose TLS method reports what was negotiated. A failed handshake is
// a failed dial: OnClose hears the error, which matches
// ErrTLSHandshake and its cause, and so does DialTLS. Unless cfg sets
// ServerName (or InsecureSkipVerify), the server's certificate is
// verified against address's host, as tls.Dial does. Renegotiation is
// off whatever cfg says: it would run a handshake on the loop. TLS is
// for stream networks (tcp, tcp4, tcp6, unix). Any goroutine but the
// client's loops (use DialAsyncTLS there).
func (cl *Client) DialTLS(ctx context.Context, network, address string, cfg *tls.Config) (Conn, error) {
	cfg, err := clientTLS(network, address, cfg)
	if err != nil {
		return nil, err
	}
	return cl.dialContext(ctx, network, address, cfg)
}

// DialAsyncTLS is DialAsync for TLS with cfg (see DialTLS): OnOpen runs
// once the handshake is done; if the connect or the handshake fails,
// OnClose runs with why. Any goroutine, loops included.
func (cl *Client) DialAsyncTLS(network, address string, cfg *tls.Config, value any) error {
	cfg, err := clientTLS(network, address, cfg)
	if err != nil {
		return err
	}
	return cl.dialAsync(network, address, value, cfg)
}

// clientTLS checks a Client's TLS dial and returns the configuration it
// uses: cfg, or a copy naming the server and never renegotiating.
func clientTLS(network, address string, cfg *tls.Config) (*tls.Config, error) {
	if cfg == nil {
		return nil, errors.New("mill: DialTLS with a nil *tls.Config")
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	case "unix":
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			return nil, errors.New("mill: DialTLS on unix: a socket path names no server: set the tls.Config's ServerName (or InsecureSkipVerify)")
		}
	default:
		return nil, fmt.Errorf("mill: DialTLS on %q: TLS is for tcp, tcp4, tcp6 and unix", network)
	}
	name := cfg.ServerName == "" && !cfg.InsecureSkipVerify
	if !name && cfg.Renegotiation == tls.RenegotiateNever {
		return cfg, nil
	}
	cfg = cfg.Clone()
	cfg.Renegotiation = tls.RenegotiateNever
	if name {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("mill: DialTLS: %w", err)
		}
		cfg.ServerName = host
	}
	return cfg, nil
}

func (cl *Client) dialContext(ctx context.Context, network, address string, cfg *tls.Config) (Conn, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, errors.New("mill: DialContext with a nil Context")
	}
	if cl.s.eng.onLoop() {
		return nil, fmt.Errorf("%w: Dial on one of the client's own loops would wait for itself; use DialAsync", ErrOnEventLoop)
	}
	type result struct {
		c   Conn
		err error
	}
	done := make(chan result, 1)
	cl.s.eng.dial(ctx, nil, network, address, nil, cfg, func(c Conn, err error) { done <- result{c, err} })
	r := <-done
	return r.c, r.err
}

// DialAsync starts connecting to address and returns at once. When the
// connection is established OnOpen runs for it; if it cannot be, OnClose
// runs with the reason (see DialContext) and OnOpen never does. Either
// way the Conn's Context (Conn.Context, not a context.Context) is value
// from the start, which lets a handler tell its dialled connections apart
// (a proxy passes the accepted connection, say). A host name in address is resolved first on a goroutine of its
// own, which WithDialTimeout and Stop bound; an IP address needs none.
// It returns an error only if the client is not started or is stopping
// (ErrServerClosed). Any goroutine, loops included.
func (cl *Client) DialAsync(network, address string, value any) error {
	return cl.dialAsync(network, address, value, nil)
}

func (cl *Client) dialAsync(network, address string, value any, cfg *tls.Config) error {
	if err := cl.ready(); err != nil {
		return err
	}
	if socket.NeedsLookup(network, address) {
		// The lookup ends with the dial timeout or the shutdown, so this
		// goroutine cannot outlive the client by more than that.
		var lookup context.Context
		var cancel context.CancelFunc
		if t := cl.s.opts.dialTimeout; t > 0 {
			lookup, cancel = context.WithTimeout(context.Background(), t)
		} else {
			lookup, cancel = context.WithCancel(context.Background())
		}
		go func() {
			defer cancel()
			stop := context.AfterFunc(cl.s.stopContext(), cancel)
			defer stop()
			cl.s.eng.dial(context.Background(), lookup, network, address, value, cfg, nil)
		}()
		return nil
	}
	cl.s.eng.dial(context.Background(), nil, network, address, value, cfg, nil)
	return nil
}

// Enroll adopts nc, an established *net.TCPConn or *net.UnixConn (or any
// stream net.Conn with a socket behind SyscallConn): the client takes
// over a duplicate of its descriptor and closes nc; OnOpen then runs for
// the returned Conn on its loop, perhaps after Enroll has returned. If
// the descriptor cannot be duplicated, nc is left open and the error
// returned. Any goroutine.
func (cl *Client) Enroll(nc net.Conn) (Conn, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	return cl.s.eng.enroll(nc)
}

// ready fails once the client is stopped, or before Start.
func (cl *Client) ready() error {
	cl.mu.Lock()
	started := cl.started
	cl.mu.Unlock()
	if !started {
		return errors.New("mill: Client not started")
	}
	select {
	case <-cl.s.stopReq:
		return ErrServerClosed
	default:
		return nil
	}
}
