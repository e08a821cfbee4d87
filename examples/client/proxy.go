package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
)

// The proxy's buffering, per connection and direction. Input the other
// side cannot take yet stays in mill's input buffer, which stops reading
// the socket past inboundLimit; copies on their way to the other side
// are capped at maxInFlight. So one direction holds at most about
// inboundLimit + maxInFlight + 2*chunkSize bytes, however fast one peer
// sends and however slowly the other reads. (One exception, mill's: once
// the poller reports a hang-up, mill reads what the kernel still holds
// past the inbound limit; see onClose.)
const (
	chunkSize    = 64 << 10  // the most one copy takes: mill's default read buffer
	lowWater     = 64 << 10  // mill.WithWriteWatermarks: writable again below this...
	highWater    = 256 << 10 // ... and unwritable above this much queued output
	inboundLimit = 256 << 10 // mill.WithInboundLimit: stop reading past this much unread input
	maxInFlight  = 512 << 10 // copies handed to AsyncWrite but not yet to the kernel
	// outboundLimit (mill.WithOutboundLimit) is never reached by the
	// proxy's own writes (at most maxInFlight + chunkSize are queued);
	// it sets the size of wakeToken.
	outboundLimit = 1 << 20
)

// wakeToken is one byte longer than the outbound limit, so mill refuses
// an AsyncWrite of it at once, on the connection's loop, reporting
// ErrOutboundFull to the callback: nothing is sent or queued and the
// connection stays as it was (policy FailWrite). AsyncWrite(wakeToken,
// cb) thus runs cb on c's loop without delay, which mill has no method
// for; see half.hop. mill never writes to it, so one serves everyone.
var wakeToken = make([]byte, outboundLimit+1)

// proxy accepts connections on server and, for each, dials the upstream
// with client; a session splices the two connections together.
type proxy struct {
	server  *mill.Server
	client  *mill.Client
	network string // the upstream's, for Client.DialAsync
	address string
	log     *log.Logger // nil: silent

	// Counters, for the tests and the curious. Any goroutine.
	pauses   atomic.Uint64 // times a direction paused: the other side could not take more
	inFlight atomic.Int64  // bytes copied for AsyncWrite, not yet handed to the kernel
	early    atomic.Uint64 // sessions whose client sent before the upstream connection was open
}

// session is one proxied connection: down was accepted by the server,
// up dialled by the client. They live on different event loops (of
// different engines), so everything one side's loop reads of the other
// side is atomic, and all it does to the other side's connection goes
// through the methods any goroutine may call: AsyncWrite, CloseWrite,
// Close and Writable.
type session struct {
	p       *proxy
	down    half        // client-facing: input from it goes up
	up      half        // upstream-facing: input from it goes down
	aborted atomic.Bool // a side broke: the other is closed, not half-closed
}

// half is one connection of a session and the direction that reads from
// it: its input is forwarded to peer's connection.
type half struct {
	s    *session
	peer *half
	name string // "downstream" or "upstream", for logs

	conn     atomic.Pointer[mill.Conn] // set once open: always for down, at OnOpen for up
	closed   atomic.Bool               // OnClose has run
	paused   atomic.Bool               // input held because the peer was full: a wake-up is owed
	inFlight atomic.Int64              // bytes forwarded to the peer, not yet handed to its kernel
	resume   mill.AsyncCallback        // h.onResume, made once
	rest     atomic.Pointer[restQueue] // input left at close, on its way (see onClose)

	// Owned by this connection's loop.
	eof     bool // the connection's peer shut its sending side (FIN)
	finSent bool // ... and that was passed on with CloseWrite on the peer
	held    bool // input was held because the upstream was not open yet
}

func newSession(p *proxy) *session {
	s := &session{p: p}
	s.down = half{s: s, peer: &s.up, name: "downstream"}
	s.up = half{s: s, peer: &s.down, name: "upstream"}
	s.down.resume = s.down.onResume
	s.up.resume = s.up.onResume
	return s
}

func (h *half) get() mill.Conn {
	if c := h.conn.Load(); c != nil {
		return *c
	}
	return nil
}

func (h *half) set(c mill.Conn) { h.conn.Store(&c) }

// chunk is one copy on its way from a connection's input to the other
// connection. Chunks are pooled, and each carries its AsyncWrite
// callback, made once, so that forwarding allocates nothing of ours.
type chunk struct {
	buf  []byte
	n    int
	from *half
	done mill.AsyncCallback // ch.finish
}

var chunks sync.Pool // of *chunk

func init() {
	// Set here: finish, which New refers to, puts chunks back.
	chunks.New = func() any {
		ch := &chunk{buf: make([]byte, chunkSize)}
		ch.done = ch.finish
		return ch
	}
}

// canSend reports whether h may forward to the peer's connection d now:
// d is writable (its queued output is under the watermarks) and h's
// copies still on their way to d are under the cap. The cap matters
// because Writable only counts output d's loop has queued; AsyncWrites
// still waiting in its task queue are not in it yet. Any goroutine.
func (h *half) canSend(d mill.Conn) bool {
	return d.Writable() && h.inFlight.Load() < maxInFlight
}

// pump forwards c's buffered input to the peer's connection while the
// peer can take it, and passes on a FIN once all input before it has
// gone. Where the peer is full, the input stays in c's buffer (and mill
// stops reading c past the inbound limit) until the peer's loop wakes h
// up. c's loop: from OnTraffic, OnHalfClose or onResume.
func (h *half) pump(c mill.Conn) {
	d := h.peer.get()
	if d == nil {
		// The upstream is still connecting: hold the input. Its OnOpen
		// resumes us.
		if c.InboundBuffered() > 0 && !h.held {
			h.held = true
			h.s.p.early.Add(1)
		}
		return
	}
	if h.peer.closed.Load() {
		// The other side is gone, and this one closes once its queued
		// output is sent (see onClose). Drop the input, so that mill
		// goes on reading: a peer blocked writing to us may not read
		// what we still send it until it can.
		c.Discard(-1)
		return
	}
	for c.InboundBuffered() > 0 {
		if !h.canSend(d) {
			// Pause, then look again: the peer's loop may have drained
			// d between canSend and the Store, and seen no pause to
			// wake. Whoever clears paused first resumes.
			h.paused.Store(true)
			if !h.canSend(d) || !h.paused.CompareAndSwap(true, false) {
				h.s.p.pauses.Add(1)
				return
			}
		}
		h.send(c, d)
	}
	if h.eof && !h.finSent {
		h.finSent = true
		d.CloseWrite() // after the copies above: AsyncWrites from one goroutine keep their order
	}
}

// send copies up to a chunk of c's input and hands it to d's loop. c's
// loop.
func (h *half) send(c, d mill.Conn) {
	ch := chunks.Get().(*chunk)
	n, _ := c.Read(ch.buf) // consumes what it copies
	ch.n, ch.from = n, h
	h.inFlight.Add(int64(n))
	h.s.p.inFlight.Add(int64(n))
	d.AsyncWrite(ch.buf[:n], ch.done) // the outcome, even ErrClosed, comes to finish
}

// finish runs once a chunk's bytes were handed to the kernel (err nil),
// or could not be. It returns the buffer and, if the source is paused
// and the destination can take more, wakes it. Usually on the
// destination's loop; on the caller's if that loop had stopped.
func (ch *chunk) finish(d mill.Conn, err error) {
	h, n := ch.from, ch.n
	ch.from, ch.n = nil, 0
	chunks.Put(ch)
	h.inFlight.Add(-int64(n))
	h.s.p.inFlight.Add(-int64(n))
	if err != nil && !errors.Is(err, mill.ErrClosed) {
		// The bytes did not go (the connection broke, or they were
		// refused: ErrOutboundFull), so the stream has a hole in it:
		// end it. Closing d closes the other side.
		if l := h.s.p.log; l != nil && errors.Is(err, mill.ErrOutboundFull) {
			l.Printf("forwarding %d bytes from %s: %v", n, h.name, err)
		}
		h.s.aborted.Store(true)
		d.Close()
		err = mill.ErrClosed
	}
	if h.rest.Load() != nil {
		h.sendRest(d, err) // h's connection has closed: send what it left
		return
	}
	h.wake()
}

// wake resumes h's forwarding if it is paused and the peer can take
// more. It runs on the peer's loop, from OnWritabilityChanged(true) or a
// chunk's callback. Any goroutine.
func (h *half) wake() {
	d := h.peer.get()
	if !h.paused.Load() || !h.canSend(d) || !h.paused.CompareAndSwap(true, false) {
		return
	}
	h.hop()
}

// hop runs h.onResume on h's connection's loop, the only goroutine that
// may read its input. Any goroutine.
//
// The obvious way, AsyncWrite(nil, cb), does run cb on the loop, but only
// once the bytes the connection had queued before it have gone to the
// kernel. That can deadlock a proxy: when the client reads slowly and
// the upstream echoes, the upstream connection's input is held (the
// client side is full) while its output is stuck (the upstream is
// blocked writing to us, so it does not read): a resume that waits for
// that output never comes. A write mill refuses at once does not wait.
func (h *half) hop() { h.get().AsyncWrite(wakeToken, h.resume) }

// onResume forwards h's held input, on h's loop: the callback of hop's
// refused write, so err is ErrOutboundFull. It is ErrClosed instead if
// the connection has closed or its sending side was shut with CloseWrite
// (its input still flows), both on the loop; or if the loop had stopped,
// when the callback runs on the caller. A loop closes its connections
// before it stops, so h.closed tells that case apart.
func (h *half) onResume(c mill.Conn, err error) {
	if errors.Is(err, mill.ErrClosed) && h.closed.Load() {
		return
	}
	h.pump(c)
}

// onClose ends h's connection's part of the session. c's loop, in
// OnClose.
func (h *half) onClose(c mill.Conn, err error) {
	h.closed.Store(true) // before looking at the peer: see upstream.OnOpen
	d := h.peer.get()
	if d == nil {
		return // the upstream is still connecting; its OnOpen sees h.closed and closes it
	}
	if err != nil || h.s.aborted.Load() {
		if err != nil && !errors.Is(err, mill.ErrServerClosed) && h.s.p.log != nil {
			h.s.p.log.Printf("%s %s: %v", h.name, c.RemoteAddr(), err)
		}
		// Broken, shut down, or closed by us because the other side
		// broke: close the other side as soon as what it has queued is
		// sent (Close alone would flush only what its socket takes at
		// once), and have it drop its input meanwhile.
		h.s.aborted.Store(true)
		d.AsyncWrite(nil, closeWhenFlushed)
		h.peer.hop()
		return
	}
	// A clean close: with WithHalfOpen that means both directions are
	// done (our peer sent FIN and we passed the other side's FIN on).
	// Input still held back must go on, and the FIN after it; but it is
	// released when OnClose returns, and there may be more of it than
	// the peer can queue: mill reads on past the inbound limit once the
	// poller reports a hang-up. So take it all, and let the peer's loop
	// send it as its queue drains, under the same cap as before.
	q := &restQueue{fin: !h.finSent}
	h.finSent = true
	for c.InboundBuffered() > 0 {
		ch := chunks.Get().(*chunk)
		ch.n, _ = c.Read(ch.buf)
		ch.from = h
		q.chunks = append(q.chunks, ch)
	}
	if len(q.chunks) == 0 {
		if q.fin {
			d.CloseWrite()
		}
		return
	}
	h.rest.Store(q)
	d.AsyncWrite(wakeToken, h.sendRest) // on to the peer's loop
}

// restQueue is the input a connection still had when it closed, on its
// way to the peer. Once stored in half.rest it belongs to the peer's
// loop.
type restQueue struct {
	chunks []*chunk
	fin    bool // pass the FIN on once they have gone
}

// sendRest sends on what a closed connection left in h.rest, as far as
// the cap on copies in flight allows; the chunks' callbacks call it
// again. It runs on the peer's loop (the callback of a refused write, or
// of a chunk), or where the peer's loop has stopped on the caller, with
// ErrClosed: then, as when the peer has closed, the rest is dropped.
func (h *half) sendRest(d mill.Conn, err error) {
	q := h.rest.Load()
	if q == nil {
		return
	}
	if errors.Is(err, mill.ErrClosed) {
		h.rest.Store(nil)
		for _, ch := range q.chunks {
			ch.from, ch.n = nil, 0
			chunks.Put(ch)
		}
		q.chunks, q.fin = nil, false // in case a loop below called us back
		return
	}
	for len(q.chunks) > 0 && h.inFlight.Load() < maxInFlight {
		ch := q.chunks[0]
		q.chunks[0], q.chunks = nil, q.chunks[1:]
		h.inFlight.Add(int64(ch.n))
		h.s.p.inFlight.Add(int64(ch.n))
		d.AsyncWrite(ch.buf[:ch.n], ch.done)
	}
	if len(q.chunks) == 0 {
		h.rest.Store(nil)
		if q.fin {
			d.CloseWrite() // after the chunks: same goroutine, same order
		}
	}
}

// closeWhenFlushed is the callback of an empty AsyncWrite: it runs once
// the connection's queued output has gone to the kernel (or could not),
// and closes the connection.
func closeWhenFlushed(c mill.Conn, _ error) { c.Close() }

// downstream handles the connections the proxy accepts.
type downstream struct {
	mill.BuiltinHandler
	p *proxy
}

func (h downstream) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	s := newSession(h.p)
	s.down.set(c)
	c.SetContext(s)
	// The upstream connection's Context is s from the start: its handler
	// finds the downstream connection there, even if the dial fails.
	if err := h.p.client.DialAsync(h.p.network, h.p.address, s); err != nil {
		return nil, mill.Close // the client is shutting down
	}
	return nil, mill.None
}

func (downstream) OnTraffic(c mill.Conn) mill.Action {
	c.Context().(*session).down.pump(c)
	return mill.None
}

func (downstream) OnHalfClose(c mill.Conn) mill.Action {
	h := &c.Context().(*session).down
	h.eof = true
	h.pump(c) // passes the FIN on once the input before it is forwarded
	return mill.None
}

// OnWritabilityChanged(true) says the downstream connection drained
// below the low watermark: the upstream's input may flow again.
func (downstream) OnWritabilityChanged(c mill.Conn, writable bool) {
	if writable {
		c.Context().(*session).up.wake()
	}
}

func (downstream) OnClose(c mill.Conn, err error) mill.Action {
	c.Context().(*session).down.onClose(c, err)
	return mill.None
}

// upstream handles the connections the proxy dials.
type upstream struct {
	mill.BuiltinHandler
	p *proxy
}

func (upstream) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	s := c.Context().(*session)
	s.up.set(c)
	if s.down.closed.Load() { // checked after set: see half.onClose
		return nil, mill.Close
	}
	// Forward what the client sent while we were connecting (and its FIN,
	// if it came already), on the downstream connection's loop.
	s.down.hop()
	return nil, mill.None
}

func (upstream) OnTraffic(c mill.Conn) mill.Action {
	c.Context().(*session).up.pump(c)
	return mill.None
}

func (upstream) OnHalfClose(c mill.Conn) mill.Action {
	h := &c.Context().(*session).up
	h.eof = true
	h.pump(c)
	return mill.None
}

func (upstream) OnWritabilityChanged(c mill.Conn, writable bool) {
	if writable {
		c.Context().(*session).down.wake()
	}
}

func (h upstream) OnClose(c mill.Conn, err error) mill.Action {
	s := c.Context().(*session)
	if s.up.get() == nil {
		// OnClose without OnOpen: the dial failed (refused, timed out,
		// the client shut down). The client gets nothing but a close.
		s.up.closed.Store(true)
		if h.p.log != nil && !errors.Is(err, mill.ErrServerClosed) {
			h.p.log.Printf("upstream for %s: %v", s.down.get().RemoteAddr(), err)
		}
		s.down.get().Close()
		return mill.None
	}
	s.up.onClose(c, err)
	return mill.None
}

// splitUpstream parses the -upstream address for Client.DialAsync:
// host:port (TCP), or tcp://, tcp4://, tcp6:// and unix:// URLs.
func splitUpstream(a string) (network, address string, err error) {
	network, address = "tcp", a
	if n, rest, ok := strings.Cut(a, "://"); ok {
		network, address = strings.ToLower(n), rest
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return "", "", fmt.Errorf("upstream %q: want host:port or a tcp://, tcp4://, tcp6:// or unix:// URL", a)
	}
	if address == "" {
		return "", "", fmt.Errorf("upstream %q: no address", a)
	}
	return network, address, nil
}

// newProxy creates a proxy listening on listen (bound on return, so
// p.server.Addr() is known) for upstream, with loops event loops on each
// side (0: one per CPU). extra options go to both sides (a logger, say).
func newProxy(listen, upstreamAddr string, loops int, dialTimeout time.Duration, logger *log.Logger, extra ...mill.Option) (*proxy, error) {
	if strings.HasPrefix(strings.ToLower(listen), "udp") {
		return nil, fmt.Errorf("listen %q: the proxy is for streams (tcp://, tcp4://, tcp6://, unix://)", listen)
	}
	network, address, err := splitUpstream(upstreamAddr)
	if err != nil {
		return nil, err
	}
	p := &proxy{network: network, address: address, log: logger}
	opts := []mill.Option{
		mill.WithLoops(loops),
		// Keep a connection open after its peer's FIN: the other
		// direction may still have a reply to deliver. The FIN is passed
		// on with CloseWrite instead, and a connection closes once both
		// directions are shut.
		mill.WithHalfOpen(true),
		mill.WithWriteWatermarks(lowWater, highWater),
		mill.WithInboundLimit(inboundLimit),
	}
	opts = append(opts, extra...)
	// Last, so that nothing in extra changes it: hop relies on FailWrite.
	opts = append(opts, mill.WithOutboundLimit(outboundLimit, mill.FailWrite))
	if p.client, err = mill.NewClient(upstream{p: p}, append(opts, mill.WithDialTimeout(dialTimeout))...); err != nil {
		return nil, err
	}
	if p.server, err = mill.NewServer(downstream{p: p}, listen, opts...); err != nil {
		p.client.Stop(context.Background()) // releases the unstarted client
		return nil, err
	}
	return p, nil
}

// serve starts the client and serves until shutdown; it returns
// mill.ErrServerClosed then.
func (p *proxy) serve() error {
	if err := p.client.Start(); err != nil {
		return err
	}
	return p.server.Serve()
}

// shutdown stops accepting, drains and closes the downstream side, then
// the upstream side, both bounded by ctx.
func (p *proxy) shutdown(ctx context.Context) error {
	return errors.Join(p.server.Shutdown(ctx), p.client.Stop(ctx))
}
