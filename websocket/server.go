package websocket

import (
	"sync"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

// Server upgrades HTTP/1.1 requests to WebSocket connections and serves
// them with a Handler.
//
// As a dedicated server it is itself the mill.Handler:
//
//	ws, _ := websocket.NewServer(h)
//	s, _ := mill.NewServer(ws, "127.0.0.1:8080")
//	s.Serve()
//
// Every request on any path is then an upgrade request; others are
// answered with 426 Upgrade Required (or 400, 405, 403 as the handshake
// rules say) and the connection closes.
//
// Beside HTTP routes on the same port, an HTTP handler calls Upgrade
// for the requests it routes to WebSocket, and hands the connections
// the Server owns to it from then on (see Upgrade and Owns).
//
// Over TLS (mill.WithTLS) it serves wss:// with no change.
type Server struct {
	mill.BuiltinHandler
	ep      *endpoint
	set     connSet
	pending sync.Pool       // *pending
	expire  func(mill.Conn) // handshakeExpired, made once
}

// pending is a dedicated server's connection until its upgrade request
// is complete.
type pending struct {
	codec http1.Codec
	start time.Time
}

// NewServer returns a Server for h. It fails, naming the option, for an
// invalid or client-only option.
func NewServer(h Handler, opts ...Option) (*Server, error) {
	if h == nil {
		return nil, errNilHandler
	}
	cfg, err := newConfig(true, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{ep: newEndpoint(cfg, h, false)}
	s.ep.set = &s.set
	s.expire = s.handshakeExpired
	lim := cfg.httpLimits
	s.pending.New = func() any {
		p := &pending{}
		p.codec.Init(lim)
		return p
	}
	return s, nil
}

// OnOpen starts a dedicated server's connection: it waits for the
// upgrade request, at most WithHandshakeTimeout. Part of mill.Handler;
// mill calls it.
func (s *Server) OnOpen(mc mill.Conn) ([]byte, mill.Action) {
	p := s.pending.Get().(*pending)
	p.start = time.Now()
	mc.SetContext(p)
	mc.SetQuietFunc(s.ep.cfg.handshakeTime, s.expire)
	return nil, mill.None
}

// handshakeExpired closes a connection that has sent nothing for the
// handshake timeout without completing its upgrade request.
func (s *Server) handshakeExpired(mc mill.Conn) {
	if p, ok := mc.Context().(*pending); ok {
		s.release(mc, p)
		s.refuse(mc, refSlow)
	}
}

// OnTraffic reads an upgrade request, or frames. Part of mill.Handler.
func (s *Server) OnTraffic(mc mill.Conn) mill.Action {
	switch x := mc.Context().(type) {
	case *Conn:
		return x.onTraffic()
	case *pending:
		return s.handshake(mc, x)
	}
	mc.Discard(-1) // refused: the response is on its way
	return mill.None
}

// handshake reads the upgrade request of a dedicated server's
// connection. Loop goroutine.
func (s *Server) handshake(mc mill.Conn, p *pending) mill.Action {
	in, _ := mc.Peek(-1)
	n, perr := p.codec.Parse(in)
	switch {
	case perr != nil:
		s.release(mc, p)
		s.refuse(mc, &refusal{status: perr.Status, reason: perr.Reason})
		return mill.None
	case n == 0:
		// The timeout counts from the connection's start, not from its
		// last byte: the quiet func gets what is left.
		left := s.ep.cfg.handshakeTime - time.Since(p.start)
		if left <= 0 {
			s.release(mc, p)
			s.refuse(mc, refSlow)
		} else {
			mc.SetQuietFunc(left, s.expire)
		}
		return mill.None
	}
	a := s.Upgrade(mc, &p.codec.Req, n)
	if mc.Context() == any(p) { // refused: Upgrade leaves the context alone
		mc.SetContext(nil)
	}
	s.releasePending(p)
	return a
}

// release drops a pending connection's state.
func (s *Server) release(mc mill.Conn, p *pending) {
	mc.SetContext(nil)
	s.releasePending(p)
}

func (s *Server) releasePending(p *pending) {
	p.codec.Reset()
	s.pending.Put(p)
}

// refuse answers an upgrade request with rf and closes the connection
// once the answer is out. Loop goroutine.
func (s *Server) refuse(mc mill.Conn, rf *refusal) {
	mc.SetQuietFunc(0, nil)
	b := s.ep.bufs.Get(256)[:0]
	b = rf.appendResponse(b)
	_, _ = mc.Write(b)
	s.ep.bufs.Put(b)
	mc.Discard(-1)
	_ = mc.CloseLingering()
}

// Upgrade answers r, an upgrade request that came on mc and takes the
// first n bytes of mc's buffered input (as http1.Codec.Parse returned
// them), from inside the OnTraffic of an HTTP handler on the same port.
// A valid request gets its 101 response; the n bytes are consumed; mc's
// Context becomes the new *Conn (so Owns reports true from then on);
// OnOpen runs; and frames buffered after the request are read at once.
// An invalid or refused request gets its error response, and mc closes
// (lingering) once the response is out; its Context is left as it was,
// for the HTTP handler's OnClose. Either way the HTTP handler must not
// read mc's input or write to it afterwards: write pending responses
// before calling Upgrade, and from then on hand mc's events to the
// Server (its OnTraffic, OnClose and OnWritabilityChanged) whenever
// Owns(mc). Return what Upgrade returns. Called without a request, or
// with an n that is not within the buffered input, it answers 500 and
// closes mc. Loop goroutine.
func (s *Server) Upgrade(mc mill.Conn, r *http1.Request, n int) mill.Action {
	if r == nil || n <= 0 || n > mc.InboundBuffered() {
		// Misuse: no request, or a length that is not what Parse said.
		s.refuse(mc, refMisuse)
		return mill.None
	}
	a, rf := s.ep.checkUpgrade(mc, r)
	if rf != nil {
		s.refuse(mc, rf)
		return mill.None
	}
	b := s.ep.bufs.Get(256)[:0]
	b = a.appendResponse(b)
	mc.Discard(n) // r's slices are not used past here
	_, err := mc.Write(b)
	s.ep.bufs.Put(b)
	if err != nil {
		mc.SetContext(nil)
		return mill.Close
	}
	c := s.ep.open(mc, a.protocol, a.deflate, a.ctx, nil)
	if mc.InboundBuffered() > 0 && c.state == stateOpen {
		return c.onTraffic()
	}
	return mill.None
}

// refMisuse answers an Upgrade called without a request parsed from mc's
// buffered input (a bug in the calling handler).
var refMisuse = &refusal{status: 500, reason: "websocket: Server.Upgrade called without the request's length as http1.Codec.Parse returned it"}

// Owns reports whether mc is a WebSocket connection of this Server (one
// Upgrade turned into a *Conn). Loop goroutine (it reads mc's Context).
func (s *Server) Owns(mc mill.Conn) bool {
	c, ok := mc.Context().(*Conn)
	return ok && c.ep == s.ep
}

// Of returns the *Conn of mc, or nil if mc is not a WebSocket connection.
// Loop goroutine.
func Of(mc mill.Conn) *Conn {
	c, _ := mc.Context().(*Conn)
	return c
}

// OnClose ends a connection: OnClose of the Handler for a WebSocket
// connection, nothing for one that never upgraded. Part of
// mill.Handler.
func (s *Server) OnClose(mc mill.Conn, err error) mill.Action {
	switch x := mc.Context().(type) {
	case *Conn:
		x.closed(err)
	case *pending:
		s.release(mc, x)
	}
	return mill.None
}

// OnWritabilityChanged relays mill's event to a WritabilityHandler.
// Part of mill.WritabilityHandler.
func (s *Server) OnWritabilityChanged(mc mill.Conn, writable bool) { writability(mc, writable) }

// OnShutdown sends every WebSocket connection a close frame with 1001
// (going away) as the mill server begins shutting down, so that clients
// learn why the connection ends. Only the connections of srv, the mill
// server shutting down, are closed: a Server may serve several. A
// connection whose upgrade completes while its server is shutting down
// (its request was being handled as the shutdown began) gets the same
// close right after its OnOpen. Part of mill.Handler; an HTTP handler
// that upgrades with this Server calls it from its own OnShutdown.
func (s *Server) OnShutdown(srv *mill.Server) {
	s.set.goAway(srv, s.ep.goingAway())
}

// CloseAll starts the closing handshake (see Conn.Close) on every open
// connection and returns how many it asked. Any goroutine.
func (s *Server) CloseAll(code StatusCode, reason string) int {
	n := 0
	for _, c := range s.Conns(nil) {
		if c.Close(code, reason) == nil {
			n++
		}
	}
	return n
}

// Conns appends the server's open WebSocket connections to dst (a
// snapshot: some may close meanwhile). Any goroutine.
func (s *Server) Conns(dst []*Conn) []*Conn { return s.set.appendAll(dst) }

// Len is how many WebSocket connections are open. Any goroutine.
func (s *Server) Len() int {
	s.set.mu.Lock()
	defer s.set.mu.Unlock()
	return s.set.n
}

// Broadcast writes pm to every open connection of the server (see
// Broadcast) and returns how many writes were submitted. Any goroutine.
func (s *Server) Broadcast(pm *Prepared) int {
	return Broadcast(s.Conns(nil), pm)
}
