package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
)

// The proxy's buffering, per connection and direction. A connection is
// read only while all it read before has been forwarded: when the other
// side cannot take more (it is not Writable, or this direction's copies
// in flight reached maxInFlight) or is not open yet, the proxy stops
// reading it with PauseReading, holding at most one read (chunkSize,
// mill's default read buffer) in its input buffer, and the rest waits
// in the kernel, where TCP pushes back on the sender. Copies on their
// way to the other side are checked against maxInFlight before each
// one, of at most chunkSize, and the other side's queued output is part
// of them. So one direction holds at most maxInFlight + 2*chunkSize
// bytes (640 KiB), however fast one peer sends and however slowly the
// other reads.
const (
	chunkSize   = 64 << 10  // the most one copy takes, and one read of mill's (its default read buffer)
	lowWater    = 64 << 10  // mill.WithWriteWatermarks: writable again below this...
	highWater   = 256 << 10 // ... and unwritable above this much queued output
	maxInFlight = 512 << 10 // copies handed to AsyncWrite but not yet to the kernel
	// inboundLimit (mill.WithInboundLimit) and outboundLimit
	// (mill.WithOutboundLimit, FailWrite) are safety nets the proxy never
	// reaches: a connection holds at most one read of unread input, and
	// its queued output is copies from the other side still in flight,
	// at most maxInFlight + chunkSize, plus once, should the other side
	// close holding input (see onClose), one read more: 640 KiB.
	inboundLimit  = 256 << 10
	outboundLimit = 1 << 20
)

// proxy accepts connections on server and, for each, dials the upstream
// with client; a session splices the two connections together.
type proxy struct {
	server  *mill.Server
	client  *mill.Client
	network string // the upstream's, for Client.DialAsync
	address string
	log     *log.Logger // nil: silent

	// Counters, for the tests and the curious. Any goroutine.
	pauses   atomic.Uint64 // times a direction paused (PauseReading): the other side could not take more
	inFlight atomic.Int64  // bytes copied for AsyncWrite, not yet handed to the kernel
	early    atomic.Uint64 // sessions whose client sent before the upstream connection was open
	holding  atomic.Int64  // connections paused now (PauseReading), holding input
	// connections that closed cleanly with input still held, which
	// onClose sent on: none is expected (see onClose)
	leftAtClose atomic.Uint64
}

// session is one proxied connection: down was accepted by the server,
// up dialled by the client. They live on different event loops (of
// different engines), so everything one side's loop reads of the other
// side is atomic, and all it does to the other side's connection goes
// through the methods any goroutine may call: AsyncWrite, Do,
// CloseWrite, Close and Writable.
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
	paused   atomic.Bool               // reading paused because the peer was full: a wake-up is owed
	inFlight atomic.Int64              // bytes forwarded to the peer, not yet handed to its kernel
	resume   func(mill.Conn)           // h.onResume, made once

	// Owned by this connection's loop.
	eof     bool // the connection's peer shut its sending side (FIN)
	finSent bool // ... and that was passed on with CloseWrite on the peer
	early   bool // input came before the upstream was open (counted once)
	holding bool // reading is paused (hold) until onResume
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
// gone. Where the peer is full or not open yet, the rest of the input
// stays in c's buffer and pump stops reading c (hold) until the peer's
// loop wakes h up; so c is read only when pump has forwarded all its
// input. c's loop: from OnTraffic, OnHalfClose or onResume.
func (h *half) pump(c mill.Conn) {
	d := h.peer.get()
	if d == nil {
		// The upstream is still connecting: hold the input. Its OnOpen
		// resumes us.
		if c.InboundBuffered() > 0 {
			if !h.early {
				h.early = true
				h.s.p.early.Add(1)
			}
			h.hold(c)
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
			// wake. Whoever clears paused first resumes. A wake-up runs
			// onResume on this loop, so after the hold below, however
			// early it comes.
			h.paused.Store(true)
			if !h.canSend(d) || !h.paused.CompareAndSwap(true, false) {
				h.s.p.pauses.Add(1)
				h.hold(c)
				return
			}
		}
		h.send(c, d)
	}
	if h.eof && !h.finSent {
		h.passFIN(d) // after the copies above: AsyncWrites and CloseWrite from one goroutine keep their order
	}
}

// hold stops reading c until onResume resumes it: mill would otherwise
// read on, and with input stuck at the inbound limit and nothing pending
// close c (ErrInboundLimit). PauseReading fails only on a connection
// that is closing, whose onClose then deals with the input. c's loop.
func (h *half) hold(c mill.Conn) {
	if !h.holding && c.PauseReading() == nil {
		h.holding = true
		h.s.p.holding.Add(1)
	}
}

// unhold undoes hold; c's input is then forwarded by the caller, in the
// same callback. c's loop.
func (h *half) unhold(c mill.Conn) error {
	if !h.holding {
		return nil
	}
	h.holding = false
	h.s.p.holding.Add(-1)
	return c.ResumeReading()
}

// send copies up to a chunk of c's input and hands it to d's loop. c's
// loop.
func (h *half) send(c, d mill.Conn) {
	ch := chunks.Get().(*chunk)
	n, err := c.Read(ch.buf) // consumes what it copies
	if err != nil || n == 0 {
		chunks.Put(ch) // nothing buffered: the callers check first
		return
	}
	ch.n, ch.from = n, h
	h.inFlight.Add(int64(n))
	h.s.p.inFlight.Add(int64(n))
	// The outcome, a refusal (the error returned) included, comes to
	// finish, exactly once.
	_ = d.AsyncWrite(ch.buf[:n], ch.done)
}

// passFIN shuts d's sending side once what h forwarded to it has gone.
// CloseWrite fails only with ErrClosed: d is closing, with an error or
// because the proxy closed it after a failure (a clean close of d needs
// this FIN first), and d's onClose closes c. c's loop.
func (h *half) passFIN(d mill.Conn) {
	h.finSent = true
	if err := d.CloseWrite(); err != nil && !errors.Is(err, mill.ErrClosed) {
		h.fail(d, "passing the FIN on", err)
	}
}

// fail ends a session whose stream has a hole in it: data or a FIN from
// h did not reach d. Closing d closes the other side (see onClose). Any
// goroutine.
func (h *half) fail(d mill.Conn, what string, err error) {
	if l := h.s.p.log; l != nil {
		l.Printf("%s from %s: %v", what, h.name, err)
	}
	h.s.aborted.Store(true)
	_ = d.Close() // ErrClosed: closing already
}

// finish runs once a chunk's bytes were handed to the kernel (err nil),
// or could not be. It returns the buffer and, if the source is paused
// and the destination can take more, wakes it. Usually on the
// destination's loop; on the caller's if that loop had stopped (an
// AsyncWrite callback runs exactly once, whatever happens).
func (ch *chunk) finish(d mill.Conn, err error) {
	h, n := ch.from, ch.n
	ch.from, ch.n = nil, 0
	chunks.Put(ch)
	h.inFlight.Add(-int64(n))
	h.s.p.inFlight.Add(-int64(n))
	if err != nil && !errors.Is(err, mill.ErrClosed) {
		// The bytes did not go (the connection broke, they were refused
		// with ErrOutboundFull, or a shutdown's drain refused them with
		// ErrServerClosed), so the stream has a hole in it: end it.
		// ErrClosed needs nothing more: d is closing, and its onClose
		// closes the other side.
		h.fail(d, fmt.Sprintf("forwarding %d bytes", n), err)
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
// may read its input, with Conn.Do. Any goroutine.
//
// Not with an AsyncWrite callback, AsyncWrite(nil, cb): that runs cb on
// the loop too, but only once the bytes the connection had queued before
// it have gone to the kernel, and that can deadlock a proxy. When the
// client reads slowly and the upstream echoes, the upstream connection's
// input is held (the client side is full) while its output is stuck (the
// upstream is blocked writing to us, so it does not read): a resume that
// waits for that output never comes. Do does not wait for queued output.
//
// Do fails only if the loop has stopped; a loop closes its connections
// before it stops, so then there is nothing left to resume.
func (h *half) hop() { _ = h.get().Do(h.resume) }

// onResume resumes reading h's connection and forwards its held input,
// in the same callback: ResumeReading does not deliver buffered input
// again. pump holds it again if the peer fills up meanwhile. It runs on
// h's loop, through hop, never on another goroutine; and it runs even if
// the connection closed after hop (Do runs fn exactly once): h.closed,
// stored by onClose on this same loop, tells, and then the input is
// gone, dealt with by onClose. A sending side shut with CloseWrite does
// not matter: the input still flows.
func (h *half) onResume(c mill.Conn) {
	if h.closed.Load() {
		return
	}
	if err := h.unhold(c); err != nil {
		return // ErrClosed: c is closing, and its onClose deals with the input
	}
	h.pump(c)
}

// onClose ends h's connection's part of the session. c's loop, in
// OnClose.
func (h *half) onClose(c mill.Conn, err error) {
	h.closed.Store(true) // before looking at the peer: see upstream.OnOpen
	if h.holding {
		h.holding = false
		h.s.p.holding.Add(-1)
	}
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
		// once), and have it resume reading and drop its input
		// meanwhile. The empty AsyncWrite's outcome, a refusal
		// included, comes to closeWhenFlushed.
		h.s.aborted.Store(true)
		_ = d.AsyncWrite(nil, closeWhenFlushed)
		h.peer.hop()
		return
	}
	// A clean close: with WithHalfOpen that means both directions are
	// done (our peer sent FIN and we passed the other side's FIN on).
	// There should be no input left: mill reads the FIN, behind all the
	// input before it, only while c is read, and pump lets c be read
	// only once it has forwarded all its input (a connection paused
	// with PauseReading reads nothing, hang-up or not, and is not closed
	// for its input). Should some be left all the same, it must go on,
	// and the FIN after it, before OnClose returns and the input is
	// released: one read at most, sent past the cap on copies in flight.
	// These AsyncWrites come, like every earlier copy, from this loop, so
	// they keep their order, and the FIN follows them.
	if h.peer.closed.Load() {
		return // the peer is gone (pump dropped the input meanwhile)
	}
	if c.InboundBuffered() > 0 {
		h.s.p.leftAtClose.Add(1)
	}
	for c.InboundBuffered() > 0 {
		h.send(c, d)
	}
	if !h.finSent {
		h.passFIN(d)
	}
}

// closeWhenFlushed is the callback of an empty AsyncWrite: it runs once
// the connection's queued output has gone to the kernel (or could not),
// and closes the connection (ErrClosed: it is closing already).
func closeWhenFlushed(c mill.Conn, _ error) { _ = c.Close() }

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
		_ = s.down.get().Close() // ErrClosed: it is closing already
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
// side (0: one per CPU). With serverTLS the proxy terminates TLS: its
// listening side serves TLS with that configuration, and it speaks
// plaintext to the upstream (nil: plaintext on both sides). extra
// options go to both sides (a logger, say).
func newProxy(listen, upstreamAddr string, loops int, dialTimeout time.Duration, serverTLS *tls.Config, logger *log.Logger, extra ...mill.Option) (*proxy, error) {
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
		// The proxy paces each direction itself (canSend, hold), each
		// on its own. mill's flow control would stop reading a
		// connection while its queued output, the other direction, is
		// past the high watermark, tying the two together, and with an
		// upstream that stops reading while it cannot write (a blocking
		// echo) that deadlocks: the proxy does not read the upstream's
		// replies until the upstream reads what is queued for it, and
		// the upstream does not read until its replies are read
		// (TestBothDirectionsBackedUp hangs with flow control on).
		mill.WithFlowControl(false),
		mill.WithWriteWatermarks(lowWater, highWater),
		mill.WithInboundLimit(inboundLimit),
		mill.WithOutboundLimit(outboundLimit, mill.FailWrite),
	}
	opts = append(opts, extra...)
	if p.client, err = mill.NewClient(upstream{p: p}, append(opts, mill.WithDialTimeout(dialTimeout))...); err != nil {
		return nil, err
	}
	if serverTLS != nil {
		// The downstream connections' OnOpen, and so the upstream dial,
		// comes once the handshake is done: a client that never finishes
		// it costs the upstream nothing.
		opts = append(opts, mill.WithTLS(serverTLS))
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
