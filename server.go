package mill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

type serverState int

const (
	stateIdle serverState = iota
	stateServing
	stateClosed
)

// Server is a multi-reactor server: a main reactor accepts connections
// and hands each, through the load balancer, to one of the sub-reactor
// event loops, which serves it for life. Create one with NewServer, run
// it with Serve and stop it with Shutdown; or do all three with Run.
type Server struct {
	h    Handler
	opts options
	eng  *engine

	mu       sync.Mutex
	state    serverState
	stopReq  chan struct{} // closed once shutdown is requested
	stopped  context.Context
	cancel   context.CancelFunc // ends stopped, with stopReq
	stopCtx  context.Context
	stopOnce sync.Once
	done     chan struct{} // closed when the server has released everything

	ready     chan struct{} // closed once the server accepts on every socket
	readyOnce sync.Once
	notReady  atomic.Bool // MarkNotReady was called
	handOff   atomic.Bool // the shutdown is a HandOff
}

// Run creates a server on addr and serves until it shuts down, which only
// a handler can request (by returning Shutdown), or a broken event loop
// causes. It returns nil after a shutdown a handler asked for, or the
// error that stopped it (NewServer's, a broken loop's, OnBoot's panic).
func Run(h Handler, addr string, opts ...Option) error {
	s, err := NewServer(h, addr, opts...)
	if err != nil {
		return err
	}
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		return err
	}
	return nil
}

// NewServer creates a server for h and binds its sockets, so Addr is
// known (port 0 resolved) before Serve. addr is tcp://host:port,
// tcp4://host:port, tcp6://[host]:port, unix:///path (unix://@name for a
// Linux abstract socket), or udp://host:port (udp4, udp6) for datagrams;
// without a scheme it is TCP. WithAddrs adds more. An address it cannot
// parse gives an error matching ErrInvalidAddress; an invalid option, an
// error naming the option. On systems without epoll or kqueue it returns
// ErrUnsupportedPlatform.
func NewServer(h Handler, addr string, opts ...Option) (*Server, error) {
	return newServer(h, addr, opts, false)
}

// newServer creates a server listening on addr, the addresses given
// WithAddrs and the sockets it inherits; a Client's listens on nothing.
func newServer(h Handler, addr string, opts []Option, client bool) (*Server, error) {
	if h == nil {
		return nil, errors.New("mill: nil Handler")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.logger == nil {
		o.logger = defaultLogger()
	}
	var addrs []string
	switch {
	case client && (len(o.addrs) > 0 || len(o.inherited) > 0):
		return nil, errors.New("mill: WithAddrs, WithListeners and WithListenerFiles are for servers, not clients")
	case client:
	case addr != "":
		addrs = append([]string{addr}, o.addrs...)
	case len(o.inherited) == 0:
		return nil, errors.New("mill: NewServer with no address: give one, or sockets to serve (WithListeners, WithListenerFiles)")
	default:
		addrs = o.addrs
	}
	s := &Server{h: h, opts: o, stopReq: make(chan struct{}), done: make(chan struct{}), ready: make(chan struct{})}
	s.stopped, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.eng, err = newEngine(s, addrs); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve runs the server on the calling goroutine until it shuts down. It
// calls OnBoot, starts the loops and accepts connections. It returns
// ErrServerClosed after a shutdown (requested by Shutdown or by a
// handler, also before Serve was called), the error that broke an event
// loop, or OnBoot's panic as a *PanicError. Serve may be called once; a
// second call returns an error.
func (s *Server) Serve() error {
	if err := s.begin(); err != nil {
		return err
	}
	return s.serve()
}

// begin moves the server to serving, once.
func (s *Server) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateClosed:
		return ErrServerClosed
	case stateServing:
		return errors.New("mill: Serve called twice")
	}
	s.state = stateServing
	return nil
}

// serve runs a server that begin moved to serving.
func (s *Server) serve() error {
	defer close(s.done)

	bootErr := s.eng.boot()
	if err := s.eng.run(); err != nil {
		return err
	}
	if bootErr != nil {
		return bootErr // the shutdown it caused has released everything
	}
	return ErrServerClosed
}

// Shutdown shuts the server down gracefully: it stops accepting at once,
// calls OnShutdown, then drains: reading stops, new asynchronous writes
// and Conn.Submit calls are refused with ErrServerClosed (except the
// answers of tasks already running), and each connection closes (OnClose
// sees ErrServerClosed) as soon as its queued output has gone out, its
// submitted asynchronous writes and Do functions have run and its
// worker-pool tasks have finished; one whose input arrived after reading
// stopped closes lingering (our FIN, its input dropped until its own, up
// to WithLingerTimeout), so its peer reads every reply and then the end
// of stream, never a reset. Connections still awaiting a PROXY header or
// a TLS handshake close at once. When ctx ends, what is left is closed
// at once. Then it waits for every loop to exit, releases
// the worker pool (tasks still running may finish until ctx ends) and the
// listener (removing a Unix socket file the server created). It returns
// nil when all that is done, or ctx.Err() if ctx ends first, in which case
// the shutdown still completes in the background. Every AsyncWrite
// callback runs exactly once, with nil only if its bytes reached the
// kernel. A shutdown that a handler asks for (returning Shutdown) closes
// connections after a best-effort flush, without draining.
// Any goroutine may call it, any number of times. On one of the
// server's own event loops (inside a handler callback) it cannot wait,
// since the loop must return before the shutdown can finish: there it
// starts the shutdown (the drain bounded by ctx) and returns
// ErrOnEventLoop at once; returning Shutdown from the callback is the
// usual way.
func (s *Server) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return errors.New("mill: Shutdown with a nil Context")
	}
	onLoop := s.eng.onLoop()
	s.mu.Lock()
	never := s.state == stateIdle
	s.state = stateClosed
	if s.stopCtx == nil {
		s.stopCtx = ctx
	}
	s.mu.Unlock()
	s.requestShutdown()
	if never {
		s.eng.closeUnstarted()
		close(s.done)
		return nil
	}
	if onLoop {
		return fmt.Errorf("%w: Shutdown has begun and goes on in the background; it cannot be waited for on the loop it needs", ErrOnEventLoop)
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready returns a channel that is closed once the server accepts on
// every listening socket (its loops run and watch them; if one cannot,
// the server shuts down and Serve returns why): the moment to
// tell a supervisor so (systemd's READY=1, tableflip's Ready, a pid
// file). It is never closed for a server that does not serve. Any
// goroutine.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

// Stopping returns a channel that is closed once the server begins to
// shut down: Shutdown or HandOff was called, a handler returned
// Shutdown, or a loop failed. It is closed before OnShutdown runs, so a
// handler that tells its connections goodbye from OnShutdown can check
// it for a connection it takes on while OnShutdown runs (one whose
// upgrade or login was under way on its loop), which OnShutdown's walk
// over its connections may have missed. For a Client's server, Stop
// closes it. Any goroutine.
func (s *Server) Stopping() <-chan struct{} { return s.stopReq }

// MarkNotReady marks the server not ready, though it still accepts and
// serves: for the health check a balancer or supervisor polls (IsReady),
// so that it stops sending new clients before Shutdown stops accepting
// them. It cannot be undone. Any goroutine.
func (s *Server) MarkNotReady() { s.notReady.Store(true) }

// IsReady reports whether the server accepts on every socket, has not
// been marked not ready and is not shutting down: what a health check
// should answer. Any goroutine.
func (s *Server) IsReady() bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	select {
	case <-s.stopReq:
		return false
	default:
	}
	return !s.notReady.Load()
}

// HandOff shuts the server down as Shutdown does, for a restart that
// hands its sockets on (ListenerFiles) or a rolling restart where
// another process serves the same address: before it closes its
// sockets, it accepts what is already queued on them (up to 4,096 a
// socket, and not past WithMaxConns) and serves it, instead of leaving
// it to be reset; and in the drain that follows, a
// connection that has not sent anything yet is not closed as idle: it
// is given until DefaultHandOffGrace from the drain's start (and ctx) to
// send its first input, which is then answered before it closes.
// Connections that have been served close once quiet, as in Shutdown.
// A HandOff after a Shutdown has begun changes nothing. Any goroutine;
// the rest as Shutdown.
func (s *Server) HandOff(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateClosed {
		s.handOff.Store(true)
	}
	s.mu.Unlock()
	return s.Shutdown(ctx)
}

// DefaultHandOffGrace is how long a HandOff's drain waits for the first
// input of connections that have sent none, as net/http's Shutdown does
// for new connections.
const DefaultHandOffGrace = 5 * time.Second

// shutdownContext bounds the shutdown's waits: the context of the first
// Shutdown call, or none when a handler asked for the shutdown.
func (s *Server) shutdownContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopCtx == nil {
		return context.Background()
	}
	return s.stopCtx
}

// drainContext is the context of the first Shutdown call, if a Shutdown
// call (rather than a handler) started the shutdown.
func (s *Server) drainContext() (context.Context, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopCtx, s.stopCtx != nil
}

// stopContext is done once shutdown is requested.
func (s *Server) stopContext() context.Context { return s.stopped }

func (s *Server) requestShutdown() {
	s.stopOnce.Do(func() { close(s.stopReq); s.cancel() })
}

// Addr returns the address the server listens on (the first, when it
// listens on several; see Addrs). Any goroutine.
func (s *Server) Addr() net.Addr { return s.eng.addr() }

// Addrs returns every address the server listens on, in the order given
// (NewServer's first, then WithAddrs'), ports resolved. Any goroutine.
func (s *Server) Addrs() []net.Addr { return s.eng.addrs() }

// CountConnections returns how many connections are open, including any
// accepted and on their way to a loop and a Client's attempts under way.
// Any goroutine.
func (s *Server) CountConnections() int { return s.eng.countConnections() }
