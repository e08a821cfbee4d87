package websocket

import (
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/bufferpool"
)

// Handler receives a WebSocket connection's events. Every callback runs
// on the connection's mill event loop, one at a time and in order, and
// must not block (hand slow work to another goroutine, or to mill's
// worker pool with NetConn().Submit, and answer with AsyncWriteMessage).
type Handler interface {
	// OnOpen runs once the opening handshake is done, before any
	// OnMessage: on a server, as the 101 response is written; on a
	// client, before Dial returns.
	OnOpen(c *Conn)
	// OnMessage runs for every complete message, text (valid UTF-8) or
	// binary, reassembled from its fragments and inflated if it came
	// compressed. payload is valid until OnMessage returns: it aliases a
	// buffer the connection reuses. Copy what you keep, and hand a copy,
	// never payload, to another goroutine.
	OnMessage(c *Conn, op Opcode, payload []byte)
	// OnClose runs once for every connection OnOpen saw, when it has
	// closed; err is a *CloseError saying how (see there). Writes fail
	// from then on.
	OnClose(c *Conn, err error)
}

// StreamHandler is an optional extension of Handler for large messages:
// a Handler that implements it gets each data frame as it completes,
// instead of OnMessage once per message, so an uncompressed message is
// never buffered whole, and WithMaxMessage bounds each frame, not the
// message. op is the message's opcode (OpText or OpBinary) on every
// frame of it, final is true on its last frame; payload is the frame's
// payload, valid until OnFrame returns. Text is still checked for valid
// UTF-8 across frames. A compressed message is the exception:
// compress/flate cannot stop at a frame's end and resume, so its frames
// are inflated together at the last one (they reach OnFrame empty until
// then, and the whole message is bounded by WithMaxMessage).
type StreamHandler interface {
	OnFrame(c *Conn, op Opcode, payload []byte, final bool)
}

// PongHandler is an optional extension of Handler: OnPong runs for every
// pong frame, payload valid until it returns. (Pings are answered
// without the handler.)
type PongHandler interface {
	OnPong(c *Conn, payload []byte)
}

// WritabilityHandler is an optional extension of Handler: it relays
// mill's OnWritabilityChanged (see mill.WithWriteWatermarks): writable
// false when the connection's queued output has passed the high
// watermark, true once it has fallen below the low one.
type WritabilityHandler interface {
	OnWritabilityChanged(c *Conn, writable bool)
}

// WriteCallback reports the outcome of an asynchronous write: nil once
// the message was written to the socket or queued for it (the payload is
// no longer needed), or why not (ErrClosed when the connection closed or
// began closing first). It runs on the connection's loop, except when
// the write is refused at once (the loop has stopped): then it runs on
// the calling goroutine before the call returns.
type WriteCallback func(c *Conn, err error)

// Connection states (Conn.state).
const (
	stateOpen       uint8 = iota
	stateCloseSent        // we sent a close frame and wait for the peer's
	stateCloseRecvd       // the peer's close frame came and was answered
	stateFailed           // we failed the connection: nothing more is read
	stateClosed           // mill closed the connection
)

// Conn is one WebSocket connection, on the server or the client side.
//
// Its methods fall into two groups, like mill.Conn's:
//
//   - Loop-only: WriteMessage, WritePrepared, Ping, Context,
//     SetContext, and the reads of the connection's state; call them in
//     a callback for this connection (or code the loop runs for it: a
//     mill Do function, a WriteCallback).
//   - Any goroutine: AsyncWriteMessage, AsyncWritePrepared, AsyncPing,
//     Close, Writable, Subprotocol, Compressed, RemoteAddr, LocalAddr,
//     NetConn.
//
// A Conn stays a safe handle after it closes: writes return ErrClosed.
type Conn struct {
	mc  mill.Conn
	ep  *endpoint
	ctx any

	protocol string
	resp     http.Header // a client's: the 101's fields
	rd       reader
	defl     *deflater // nil unless compression was negotiated
	infl     *inflater

	state     uint8
	client    bool  // we mask our frames
	compress  bool  // permessage-deflate negotiated
	zipCtx    bool  // and our compressor keeps its context between messages
	pinged    bool  // a keep-alive ping is unanswered
	opened    bool  // OnOpen ran
	closeAt   int64 // when we sent our close frame (a client: then when the handshake ended), in Unix nanoseconds
	closeErr  *CloseError
	hb        [maxHeaderLen]byte
	iov       [2][]byte
	trackNext *Conn // set membership (Server.conns)
	trackPrev *Conn
}

// endpoint is what a Server's or a Client's connections share.
type endpoint struct {
	cfg    *config
	h      Handler
	stream StreamHandler
	pong   PongHandler
	wr     WritabilityHandler
	client bool
	set    *connSet // the server's (or client's) open connections
	bufs   bufferpool.Pool
}

func newEndpoint(cfg *config, h Handler, client bool) *endpoint {
	ep := &endpoint{cfg: cfg, h: h, client: client}
	ep.stream, _ = h.(StreamHandler)
	ep.pong, _ = h.(PongHandler)
	ep.wr, _ = h.(WritabilityHandler)
	return ep
}

// open makes the Conn of mc once its handshake is done, and runs
// OnOpen. Loop goroutine.
func (ep *endpoint) open(mc mill.Conn, protocol string, dp *deflateParams, ctx any, resp http.Header) *Conn {
	c := &Conn{mc: mc, ep: ep, ctx: ctx, protocol: protocol, client: ep.client, resp: resp}
	if dp != nil {
		c.compress, c.zipCtx = true, !dp.ourNoContext
		c.defl = &deflater{}
		c.defl.init(ep.cfg.compression.level(), dp.ourNoContext)
		c.infl = &inflater{}
		c.infl.init(dp.peerNoContext)
	}
	mc.SetContext(c)
	if d := ep.cfg.pingInterval; d > 0 {
		mc.SetQuietFunc(d, keepAlive)
	} else {
		mc.SetQuietFunc(0, nil)
	}
	if ep.set != nil {
		ep.set.add(c)
	}
	c.opened = true
	c.onOpen()
	if stopping(mc) {
		// Its server began to shut down while the upgrade was under way:
		// goAway may have missed it (it is checked after add, so one of
		// the two sees it). A no-op if OnOpen closed it already.
		c.startClose(StatusGoingAway, ep.goingAway())
	}
	return c
}

// The Handler's callbacks run through these, so that a panic in one
// tells the peer (see panicking).

func (c *Conn) onOpen() {
	done := false
	defer c.panicking(&done)
	c.ep.h.OnOpen(c)
	done = true
}

func (c *Conn) onMessage(op Opcode, p []byte) {
	done := false
	defer c.panicking(&done)
	c.ep.h.OnMessage(c, op, p)
	done = true
}

func (c *Conn) onFrame(op Opcode, p []byte, final bool) {
	done := false
	defer c.panicking(&done)
	c.ep.stream.OnFrame(c, op, p, final)
	done = true
}

func (c *Conn) onPong(p []byte) {
	done := false
	defer c.panicking(&done)
	c.ep.pong.OnPong(c, p)
	done = true
}

// writability relays mill's OnWritabilityChanged for mc to the
// WritabilityHandler, if there is one and mc is an open WebSocket
// connection (a server's or a client's).
func writability(mc mill.Conn, writable bool) {
	c, ok := mc.Context().(*Conn)
	if !ok || c.ep.wr == nil || c.state == stateClosed {
		return
	}
	done := false
	defer c.panicking(&done)
	c.ep.wr.OnWritabilityChanged(c, writable)
	done = true
}

// panicking, deferred around a Handler callback with done set once the
// callback has returned, runs while a panic in it unwinds (it does not
// recover it: mill does, logs it and closes the connection, and OnClose
// sees a *mill.PanicError) and first sends the peer a close frame with
// 1011 (internal error), if the connection is open, so that the peer
// learns that the server failed rather than seeing the connection
// vanish (1006). Loop goroutine.
func (c *Conn) panicking(done *bool) {
	if *done || c.state != stateOpen {
		return
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(StatusInternalError))
	if c.writeControl(OpClose, b[:]) == nil {
		c.state = stateCloseSent
		c.closeErr = &CloseError{Code: StatusInternalError}
	}
}

// stopping reports whether mc's server is shutting down.
func stopping(mc mill.Conn) bool {
	srv := mc.Server()
	if srv == nil {
		return false // a fake connection (milltest)
	}
	select {
	case <-srv.Stopping():
		return true
	default:
		return false
	}
}

// goingAway is the reason of the 1001 close sent as the server or client
// stops.
func (ep *endpoint) goingAway() string {
	if ep.client {
		return "client stopping"
	}
	return "server shutting down"
}

// keepAlive is the quiet func of a connection with a ping interval: a
// ping after the first quiet period, a failure after the second.
func keepAlive(mc mill.Conn) {
	c, ok := mc.Context().(*Conn)
	if !ok {
		return
	}
	switch {
	case c.state == stateCloseSent:
		c.abort(&CloseError{Code: c.closeErr.Code, Reason: c.closeErr.Reason, Err: ErrCloseTimeout})
	case c.state == stateCloseRecvd:
		// The handshake is done; the server has not closed the TCP
		// connection in time (a client waits for it to): we do.
		_ = mc.Close()
	case c.state != stateOpen:
	case c.pinged:
		c.abort(&CloseError{Code: StatusAbnormal, Remote: true, Err: ErrPongTimeout})
	default:
		c.pinged = true
		c.writeControl(OpPing, nil)
	}
}

// closed runs from mill's OnClose: the connection is gone. Loop
// goroutine.
func (c *Conn) closed(err error) {
	if c.state == stateClosed {
		return
	}
	ce := c.closeErr
	if ce == nil {
		if err == nil {
			err = errPeerGone
		}
		ce = &CloseError{Code: StatusAbnormal, Remote: !byUs(err), Err: err}
	} else if ce.Err == nil && c.state == stateCloseSent {
		// We closed and the connection ended before the peer answered.
		if err == nil {
			err = errPeerGone
		}
		ce = &CloseError{Code: ce.Code, Reason: ce.Reason, Err: err}
	}
	c.state = stateClosed
	c.rd.release(c.ep)
	if c.defl != nil {
		c.defl.release()
		c.infl.release()
	}
	if c.ep.set != nil {
		c.ep.set.remove(c)
	}
	if c.opened {
		c.ep.h.OnClose(c, ce)
	}
}

// byUs reports whether err, why mill closed a connection without a
// close handshake, was our side's decision (a handler's panic or Close, a
// shutdown, one of mill's timeouts or limits: a slow consumer is closed
// by us, however slow the peer) rather than the peer's doing (its end of
// stream, a reset, a TLS failure).
func byUs(err error) bool {
	var pe *mill.PanicError
	return errors.As(err, &pe) || errors.Is(err, mill.ErrHandlerPanic) || errors.Is(err, mill.ErrClosed) ||
		errors.Is(err, mill.ErrServerClosed) || errors.Is(err, mill.ErrSlowConsumer) ||
		errors.Is(err, mill.ErrOutboundFull) || errors.Is(err, mill.ErrInboundLimit) ||
		errors.Is(err, mill.ErrIdleTimeout) || errors.Is(err, mill.ErrReadTimeout) ||
		errors.Is(err, mill.ErrWriteTimeout)
}

// Context returns what SetContext (or the WithAccept hook's
// Upgrade.SetContext) stored. Loop-only.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores per-connection state. Loop-only.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Subprotocol is the subprotocol the handshake agreed on, or "". Any
// goroutine.
func (c *Conn) Subprotocol() string { return c.protocol }

// ResponseHeader is, on a client's connection, the header fields of the
// server's 101 response (cookies it set, fields its upgrade hook
// added); nil on a server's. Do not modify it. Any goroutine.
func (c *Conn) ResponseHeader() http.Header { return c.resp }

// Compressed reports whether permessage-deflate was negotiated. Any
// goroutine.
func (c *Conn) Compressed() bool { return c.compress }

// NetConn is the mill connection underneath, for its socket settings,
// addresses, TLS state, Submit and Do. Do not read from or write to it
// directly: that would corrupt the WebSocket stream. Any goroutine.
func (c *Conn) NetConn() mill.Conn { return c.mc }

// RemoteAddr is the peer's address (see mill.Conn). Any goroutine.
func (c *Conn) RemoteAddr() net.Addr { return c.mc.RemoteAddr() }

// LocalAddr is the connection's local address. Any goroutine.
func (c *Conn) LocalAddr() net.Addr { return c.mc.LocalAddr() }

// Writable reports whether the connection's queued output is below
// mill's high watermark (see mill.Conn.Writable): a producer should pause
// while it is false. Any goroutine.
func (c *Conn) Writable() bool { return c.mc.Writable() }

// connSet is a server's (or client's) open connections, for
// Server.CloseAll and Server.Conns. A doubly linked list under a mutex:
// adding and removing allocate nothing.
type connSet struct {
	mu   sync.Mutex
	head *Conn
	n    int
}

func (s *connSet) add(c *Conn) {
	s.mu.Lock()
	c.trackNext = s.head
	if s.head != nil {
		s.head.trackPrev = c
	}
	s.head = c
	s.n++
	s.mu.Unlock()
}

// goAway starts the closing handshake with 1001 (going away) and reason
// on every connection in the set that belongs to srv, the mill server
// (or a Client's) that is shutting down; connections of other servers
// sharing the handler carry on. A connection added later, whose upgrade
// was under way on its loop meanwhile, is closed by open instead (its
// server's Stopping channel is closed before OnShutdown runs, which
// calls this). Any goroutine.
func (s *connSet) goAway(srv *mill.Server, reason string) {
	for _, c := range s.appendAll(nil) {
		if c.mc.Server() == srv {
			_ = c.Close(StatusGoingAway, reason)
		}
	}
}

func (s *connSet) remove(c *Conn) {
	s.mu.Lock()
	if c.trackPrev != nil {
		c.trackPrev.trackNext = c.trackNext
	} else if s.head == c {
		s.head = c.trackNext
	} else {
		s.mu.Unlock()
		return // not in the set
	}
	if c.trackNext != nil {
		c.trackNext.trackPrev = c.trackPrev
	}
	c.trackNext, c.trackPrev = nil, nil
	s.n--
	s.mu.Unlock()
}

// appendAll appends every connection in the set to dst.
func (s *connSet) appendAll(dst []*Conn) []*Conn {
	s.mu.Lock()
	for c := s.head; c != nil; c = c.trackNext {
		dst = append(dst, c)
	}
	s.mu.Unlock()
	return dst
}
