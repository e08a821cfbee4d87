package milltest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/proxyproto"
)

// sealer is mill.Conn under an unexported name. mill.Conn has an
// unexported method, which no type outside package mill can declare;
// embedding the interface promotes it. Conn embeds a sealer that is
// always nil and declares every exported method of mill.Conn itself (a
// test checks this), so the embedded value is never called.
type sealer interface{ mill.Conn }

// junk is what the fake writes over input bytes whose slices have
// expired (see Conn.Feed).
const junk = 0xDB

// maxPending bounds one RunPending call, to turn work that keeps queueing
// more work forever into a panic rather than a hung test. A variable for
// the test of it.
var maxPending = 1 << 20

// Conn is a fake mill.Conn for unit tests: input comes from Feed (or
// Harness.Traffic), and writes, closes, actions and settings are
// recorded for the test to check. See the package documentation for how
// it models mill's behaviour. Make one with NewConn (or Harness.Open);
// the zero Conn is not ready for use.
//
// All its methods are safe for concurrent use. The methods of mill.Conn
// follow mill's goroutine rules in spirit (call the loop-only ones from
// handler code or the test, not from goroutines of the handler's own),
// but the fake does not enforce them.
type Conn struct {
	sealer // always nil: only promotes mill.Conn's unexported method

	mu sync.Mutex

	h *Harness // set by Harness.OpenConn

	local, remote net.Addr
	tls           *tls.ConnectionState
	proxy         *proxyproto.Header
	ctx           any
	codec         codec.Codec

	// Input: buf[r:] is unread; held is input the Harness holds back
	// while reading is stopped.
	buf  []byte
	r    int
	held []byte

	// Output.
	out      []byte
	writes   [][]byte
	queued   int    // accepted, not yet taken by the fake socket
	accepted uint64 // bytes accepted, ever
	sent     uint64 // bytes taken by the fake socket, ever
	full     bool   // the fake socket takes nothing
	waiting  []waiter

	limit       int
	policy      mill.OverflowPolicy
	low, high   int
	flowControl bool
	unwritable  bool
	told        bool // what a WritabilityHandler was last told

	// Closing.
	depth            int  // handler callbacks running
	closeReq         bool // Close or CloseLingering called
	closeWriteCalled bool
	writeShut        bool // CloseWrite took effect: writes fail
	finSent          bool // ... and the queue has drained
	peerEOF          bool
	lingering        bool
	doomed           bool // a write or decode error: close when the callback returns
	decodeFailed     bool
	closed           bool
	closeErr         error
	finishing        bool // closed; unlock must run the write callbacks and OnClose

	paused      bool
	pending     []func()
	submitErr   error
	actions     []mill.Action
	timeouts    [3]time.Duration // idle, read, write
	quiet       time.Duration
	quietFn     func(mill.Conn)
	sockopts    SocketOptions
	closeAction mill.Action
}

// waiter is an asynchronous write's callback waiting for the fake socket
// to take its bytes: it runs once sent reaches seq.
type waiter struct {
	seq uint64
	cb  mill.AsyncCallback
}

// SocketOptions records the socket settings a handler made with
// Conn.SetNoDelay, SetKeepAlive, SetLinger, SetReadBuffer and
// SetWriteBuffer: the last value of each; nil if never set.
type SocketOptions struct {
	NoDelay     *bool
	KeepAlive   *time.Duration
	Linger      *int
	ReadBuffer  *int
	WriteBuffer *int
}

var (
	_ mill.Conn = (*Conn)(nil)

	// defaultLocal and defaultRemote are the addresses of a new Conn.
	defaultLocal  = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9000}
	defaultRemote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
)

// NewConn returns an open fake connection with no input, from
// 127.0.0.1:50000 to 127.0.0.1:9000, with mill's default outbound limit,
// overflow policy and watermarks, flow control on, and no codec. Set
// anything else before handing it to Harness.OpenConn or to handler code.
func NewConn() *Conn {
	return &Conn{
		local:       defaultLocal,
		remote:      defaultRemote,
		limit:       mill.DefaultOutboundLimit,
		policy:      mill.CloseSlowConsumer,
		low:         mill.DefaultLowWatermark,
		high:        mill.DefaultHighWatermark,
		flowControl: true,
		told:        true,
	}
}

// unlock releases c.mu and then, if the connection closed meanwhile,
// finishes the close as mill's loop does: the callbacks of asynchronous
// writes still waiting run with mill.ErrClosed, then, for a Harness-opened
// connection, OnClose. Methods that may close the connection defer it
// instead of c.mu.Unlock, so that no handler code runs under the lock.
func (c *Conn) unlock() {
	if !c.finishing {
		c.mu.Unlock()
		return
	}
	c.finishing = false
	ws := c.waiting
	c.waiting = nil
	err := c.closeErr
	h := c.h
	c.mu.Unlock()
	for _, w := range ws {
		c.callback(func() { w.cb(c, mill.ErrClosed) })
	}
	if h != nil {
		c.mu.Lock()
		c.depth++
		c.mu.Unlock()
		a := c.guard(func() mill.Action { return h.handler.OnClose(c, err) })
		c.mu.Lock()
		c.depth--
		c.actions = append(c.actions, a)
		c.closeAction = a
		c.mu.Unlock()
	}
}

// closeLocked closes c with err; c.unlock finishes the close. c.mu held.
func (c *Conn) closeLocked(err error) {
	if c.closed {
		return
	}
	c.closed, c.closeErr, c.finishing = true, err, true
	if c.lingering {
		c.expire() // a lingering close drops unread input
		c.buf, c.r = nil, 0
	}
}

// fail records an error that closes c: when the callback returns, or at
// once outside callbacks. c.mu held.
func (c *Conn) fail(err error) {
	if c.depth > 0 {
		if !c.doomed {
			c.doomed, c.closeErr = true, err
		}
		return
	}
	c.closeLocked(err)
}

// guard runs handler code fn, for which the caller has counted a
// callback in c.depth, and returns its action. If fn panics, the panic
// goes on, with the callback uncounted, so that a test that recovers it
// finds the connection outside callbacks. c.mu not held.
func (c *Conn) guard(fn func() mill.Action) mill.Action {
	ok := false
	defer func() {
		if !ok {
			c.mu.Lock()
			c.depth--
			c.mu.Unlock()
		}
	}()
	a := fn()
	ok = true
	return a
}

// end marks the end of handler code for c that returned a: when the
// outermost callback returns, its input slices expire, and the
// connection closes if the code returned mill.Close or met an error that
// dooms it (as in mill, a Close it called is queued work instead). c.mu
// not held.
func (c *Conn) end(a mill.Action) {
	c.mu.Lock()
	defer c.unlock()
	c.depth--
	if c.depth > 0 {
		return
	}
	c.expire()
	switch {
	case c.closed:
	case c.doomed:
		c.closeLocked(c.closeErr)
	case a == mill.Close:
		c.closeLocked(nil)
	}
}

// callback runs fn as handler code for c. c.mu not held.
func (c *Conn) callback(fn func()) {
	c.mu.Lock()
	c.depth++
	c.mu.Unlock()
	c.guard(func() mill.Action { fn(); return mill.None })
	c.end(mill.None)
}

// record appends a callback's action to the record.
func (c *Conn) record(a mill.Action) {
	c.mu.Lock()
	c.actions = append(c.actions, a)
	c.mu.Unlock()
}

// expire ends the validity of every input slice handed out: the unread
// bytes move to a new buffer and the old one is overwritten. c.mu held.
func (c *Conn) expire() {
	if c.buf == nil {
		return
	}
	var nb []byte
	if rest := c.buf[c.r:]; len(rest) > 0 {
		nb = append(make([]byte, 0, len(rest)), rest...)
	}
	for i := range c.buf {
		c.buf[i] = junk
	}
	c.buf, c.r = nb, 0
}

// ---- Test side ----

// Feed appends p to the connection's buffered input, as if it had just
// been read from the socket, without running any handler code (use
// Harness.Traffic for that). Slices obtained from Peek, Next and
// ReadFrame before it are no longer valid. p is copied.
func (c *Conn) Feed(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	c.buf = append(c.buf, p...)
}

// Output returns a copy of every byte the connection accepted for
// writing since it was made or since the last TakeOutput, in order:
// what the peer reads. Bytes still queued (see SetSocketFull) are
// included.
func (c *Conn) Output() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.out...)
}

// Written returns the same bytes as Output, one element per accepted
// write: each Write, Writev and WriteFrame, the output of each
// asynchronous write, and OnOpen's returned bytes. The slices are the
// caller's.
func (c *Conn) Written() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := make([][]byte, len(c.writes))
	for i, w := range c.writes {
		ws[i] = append([]byte(nil), w...)
	}
	return ws
}

// TakeOutput returns Output and forgets it (and Written), so that the
// next call returns only what was written after this one.
func (c *Conn) TakeOutput() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out, c.writes = nil, nil
	return out
}

// SetOutboundLimit sets, as mill.WithOutboundLimit does for a server, the
// most output the connection may queue, and what a write past it does:
// under mill.CloseSlowConsumer it fails with mill.ErrSlowConsumer and the
// connection closes with it when the callback returns; under
// mill.FailWrite it fails with mill.ErrOutboundFull and the connection
// stays open. A single write larger than the limit always fails; limit
// <= 0 removes the limit. Output queues only while the fake socket is
// full (SetSocketFull).
func (c *Conn) SetOutboundLimit(limit int, p mill.OverflowPolicy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit, c.policy = limit, p
}

// SetWriteWatermarks sets, as mill.WithWriteWatermarks does for a
// server, when the connection turns unwritable (queued output above high)
// and writable again (below low, or empty).
func (c *Conn) SetWriteWatermarks(low, high int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.low, c.high = low, high
}

// SetFlowControl sets, as mill.WithFlowControl does for a server, whether
// the Harness stops delivering input while the connection is unwritable
// (default true).
func (c *Conn) SetFlowControl(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flowControl = on
}

// SetSocketFull makes the fake socket take no output (full true), so that
// writes queue (OutboundBuffered), as to a peer that does not read; or
// take output again (full false), which takes everything queued, as
// Drain(-1) does.
func (c *Conn) SetSocketFull(full bool) {
	c.mu.Lock()
	c.full = full
	c.mu.Unlock()
	if !full {
		c.Drain(-1)
	}
}

// Drain lets the fake socket take up to n bytes of queued output (n < 0:
// all of it), even while it is full, and returns how many it took. As
// mill's loop does when the socket takes output, it makes the connection
// writable again once the queue is below the low watermark (queueing the
// notice for a WritabilityHandler), runs the callbacks of the
// asynchronous writes whose bytes have all been taken, with nil, and,
// once the queue is empty, completes a CloseWrite. Call it as you would
// RunPending: it runs handler code.
func (c *Conn) Drain(n int) int {
	c.mu.Lock()
	if n < 0 || n > c.queued {
		n = c.queued
	}
	c.queued -= n
	c.sent += uint64(n)
	if n > 0 && c.unwritable && (c.queued < c.low || c.queued == 0) {
		c.setWritable(true)
	}
	var done []waiter
	for len(c.waiting) > 0 && c.waiting[0].seq <= c.sent {
		done = append(done, c.waiting[0])
		c.waiting = c.waiting[1:]
	}
	c.mu.Unlock()
	for _, w := range done {
		c.callback(func() { w.cb(c, nil) })
	}
	c.mu.Lock()
	defer c.unlock()
	if c.writeShut && !c.finSent && c.queued == 0 && !c.closed {
		c.shutWrite()
	}
	return n
}

// SetWritable sets what Writable reports, as if queued output had
// crossed a watermark, and queues the OnWritabilityChanged notice for a
// Harness whose handler is a mill.WritabilityHandler (RunPending runs
// it). While it is false, with flow control on, the Harness holds input
// back. The queue's next crossing of a watermark sets it again.
func (c *Conn) SetWritable(w bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w == !c.unwritable {
		return
	}
	c.setWritable(w)
}

// setWritable records a writability transition and queues its notice,
// which, as in mill, is skipped if the handler would hear nothing new.
// c.mu held.
func (c *Conn) setWritable(w bool) {
	c.unwritable = !w
	if c.h == nil {
		return
	}
	wh, ok := c.h.handler.(mill.WritabilityHandler)
	if !ok {
		return
	}
	c.pending = append(c.pending, func() {
		c.mu.Lock()
		if c.closed || c.told == w || w && c.unwritable {
			c.mu.Unlock()
			return
		}
		c.told = w
		c.depth++
		c.mu.Unlock()
		c.guard(func() mill.Action { wh.OnWritabilityChanged(c, w); return mill.None })
		c.end(mill.None)
	})
}

// RunPending runs the work queued for the connection, in the order it
// was queued, including work queued meanwhile, until none is left, and
// returns how much it ran: asynchronous writes (a callback runs with nil
// once the fake socket has taken all its bytes, at once unless the
// socket is full, or with the write's error, such as mill.ErrClosed
// once the connection has closed), Do functions (which run even after
// close, as in mill), Submit tasks and writability notices. Write
// callbacks, Do functions and notices run as handler code for the
// connection; Submit tasks run as worker-pool code would, outside it. It
// panics if the work never ends (more than a million items).
func (c *Conn) RunPending() int {
	n := 0
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return n
		}
		f := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.mu.Unlock()
		if n++; n > maxPending {
			panic("milltest: RunPending: the queued work keeps queueing more")
		}
		f()
	}
}

// Pending is how many items of work are queued for RunPending.
func (c *Conn) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// SetSubmitError makes later Submit calls fail with err, as a full worker
// pool does with workerpool.ErrPoolOverload or a closed server with
// mill.ErrServerClosed; nil makes Submit queue tasks again.
func (c *Conn) SetSubmitError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.submitErr = err
}

// Closed reports whether the connection is closed or closing: Close or
// CloseLingering was called, a callback returned mill.Close, Harness.Close
// closed it, or a write or decode error dooms it.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.closeReq || c.doomed
}

// CloseErr is the error the connection closed with, or will close with
// when the current callback returns: what OnClose sees. It is nil for a
// clean close, and while the connection is open.
func (c *Conn) CloseErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// CloseWriteCalled reports whether CloseWrite was called (and did not
// fail).
func (c *Conn) CloseWriteCalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeWriteCalled
}

// Lingering reports whether the connection closes, or closed, lingering:
// CloseLingering was called, or a codec decode error closed it, as mill
// then does.
func (c *Conn) Lingering() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lingering
}

// ReadingPaused reports whether the handler paused reading with
// PauseReading and has not resumed it.
func (c *Conn) ReadingPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// Timeouts returns the last values passed to SetIdleTimeout,
// SetReadTimeout and SetWriteTimeout (zero if never called). The fake
// never times out.
func (c *Conn) Timeouts() (idle, read, write time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeouts[0], c.timeouts[1], c.timeouts[2]
}

// SocketOptions returns the socket settings the handler made.
func (c *Conn) SocketOptions() SocketOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockopts
}

// Actions returns the actions the handler's callbacks for the
// connection returned, in order: OnOpen's, OnTraffic's, OnHalfClose's
// and OnClose's, as run by a Harness.
func (c *Conn) Actions() []mill.Action {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]mill.Action(nil), c.actions...)
}

// SetLocalAddr sets what LocalAddr returns.
func (c *Conn) SetLocalAddr(a net.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.local = a
}

// SetRemoteAddr sets what RemoteAddr returns.
func (c *Conn) SetRemoteAddr(a net.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remote = a
}

// SetProxy makes the connection look like one that began with the
// PROXY protocol header h (what Proxy returns); nil: without one. It
// does not change the addresses: set them with SetRemoteAddr and
// SetLocalAddr.
func (c *Conn) SetProxy(h *proxyproto.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proxy = h
}

// SetTLS makes the connection look like a TLS one whose handshake
// negotiated st (what TLS returns); nil makes it plaintext again.
func (c *Conn) SetTLS(st *tls.ConnectionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tls = st
}

// ---- mill.Conn ----

// Server returns nil: a fake connection belongs to no server.
func (c *Conn) Server() *mill.Server { return nil }

// Proxy returns what SetProxy set; ok is false without a header (the
// default).
func (c *Conn) Proxy() (proxyproto.Header, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proxy == nil {
		return proxyproto.Header{}, false
	}
	return *c.proxy, true
}

// TLS returns what SetTLS set; ok is false for a plaintext connection
// (the default).
func (c *Conn) TLS() (tls.ConnectionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tls, true
}

// LocalAddr returns the local address: 127.0.0.1:9000 unless
// SetLocalAddr changed it.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// RemoteAddr returns the peer's address: 127.0.0.1:50000 unless
// SetRemoteAddr changed it.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// Fd returns -1: there is no socket.
func (c *Conn) Fd() int { return -1 }

// SetIdleTimeout records d (see Timeouts).
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeouts[0] = d
}

// SetReadTimeout records d (see Timeouts).
func (c *Conn) SetReadTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeouts[1] = d
}

// SetQuietFunc records fn and d; QuietFunc returns them, for a test to
// call fn as the server would after d without input.
func (c *Conn) SetQuietFunc(d time.Duration, fn func(mill.Conn)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quiet, c.quietFn = d, fn
}

// QuietFunc returns what SetQuietFunc recorded last (0, nil if never).
func (c *Conn) QuietFunc() (time.Duration, func(mill.Conn)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quiet, c.quietFn
}

// SetWriteTimeout records d (see Timeouts).
func (c *Conn) SetWriteTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeouts[2] = d
}

// Context returns what SetContext stored.
func (c *Conn) Context() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// SetContext stores per-connection state.
func (c *Conn) SetContext(ctx any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx = ctx
}

// unread returns the unread input. c.mu held.
func (c *Conn) unread() []byte {
	if c.buf == nil {
		return nil
	}
	in := c.buf[c.r:]
	return in[:len(in):len(in)]
}

// Peek returns the next n buffered input bytes without consuming them; n
// < 0 means all of them. If fewer than n are buffered it returns those
// and io.ErrShortBuffer. The slice is valid until the callback returns
// or the next Feed; do not write to it.
func (c *Conn) Peek(n int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peek(n)
}

func (c *Conn) peek(n int) ([]byte, error) {
	in := c.unread()
	if n < 0 {
		return in, nil
	}
	if n > len(in) {
		return in, io.ErrShortBuffer
	}
	return in[:n:n], nil
}

// Next is Peek that also consumes what it returns.
func (c *Conn) Next(n int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.peek(n)
	c.r += len(b)
	return b, err
}

// Discard drops up to n buffered input bytes (n < 0: all) and returns
// how many it dropped.
func (c *Conn) Discard(n int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.unread()
	if n < 0 || n > len(in) {
		n = len(in)
	}
	c.r += n
	return n, nil
}

// Read copies buffered input into p; it returns io.EOF when nothing is
// buffered.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	in := c.unread()
	if len(in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, in)
	c.r += n
	return n, nil
}

// InboundBuffered is how many input bytes are buffered.
func (c *Conn) InboundBuffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.unread())
}

// writable reports why the connection takes no output, if it does not.
// c.mu held.
func (c *Conn) writable() error {
	if c.closed || c.writeShut {
		return mill.ErrClosed
	}
	if c.doomed && !c.decodeFailed {
		return c.closeErr // every later write in the callback fails alike
	}
	return nil
}

// write accepts p whole or refuses it, as mill's Write does. p is copied.
// c.mu held.
func (c *Conn) write(p []byte) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.limit > 0 && c.queued+len(p) > c.limit {
		if c.policy == mill.FailWrite {
			return 0, mill.ErrOutboundFull
		}
		c.fail(mill.ErrSlowConsumer)
		return 0, mill.ErrSlowConsumer
	}
	c.out = append(c.out, p...)
	c.writes = append(c.writes, append([]byte(nil), p...))
	c.accepted += uint64(len(p))
	if !c.full {
		c.sent += uint64(len(p))
		return len(p), nil
	}
	c.queued += len(p)
	if c.queued > c.high && !c.unwritable {
		c.setWritable(false)
	}
	return len(p), nil
}

// Write accepts p (copied) into Output, or queues it while the fake
// socket is full, and returns len(p). It fails with mill.ErrClosed once
// the connection has closed or CloseWrite has taken effect, and, if p
// would take the queue past the outbound limit (SetOutboundLimit), with
// mill.ErrSlowConsumer (the connection closes with it when the callback
// returns, or at once outside callbacks; later writes in the callback
// fail alike) or mill.ErrOutboundFull; then nothing of p is written.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.unlock()
	return c.write(p)
}

// Writev is Write for several buffers; they make one element of Written.
func (c *Conn) Writev(bs [][]byte) (int, error) {
	var p []byte
	for _, b := range bs {
		p = append(p, b...)
	}
	return c.Write(p)
}

// Flush returns what a write would fail with, if anything. Queued output
// leaves only when the test lets the fake socket take it (Drain,
// SetSocketFull).
func (c *Conn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writable()
}

// OutboundBuffered is how many output bytes are queued: 0 unless the
// fake socket is full (SetSocketFull).
func (c *Conn) OutboundBuffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// Writable reports whether queued output is below the high watermark (or,
// once above, has fallen below the low one), or what SetWritable set.
func (c *Conn) Writable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.unwritable
}

// queue appends work for RunPending.
func (c *Conn) queue(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, f)
}

// asyncWrite is the queued side of an asynchronous write: do writes, and
// cb hears the outcome, now or, while the fake socket holds some of the
// bytes, from Drain (or ErrClosed from the close).
func (c *Conn) asyncWrite(do func() error, cb mill.AsyncCallback) {
	err := do()
	if cb == nil {
		return
	}
	c.mu.Lock()
	if err == nil && c.queued > 0 && !c.closed {
		c.waiting = append(c.waiting, waiter{seq: c.accepted, cb: cb})
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.callback(func() { cb(c, err) })
}

// AsyncWrite queues a write of p for RunPending, which writes it as Write
// does and then runs cb, if not nil, exactly once: with nil when the fake
// socket has taken all of p, or with the error that stopped it
// (mill.ErrClosed if the connection has closed). It returns nil. p must
// not be modified until cb runs.
func (c *Conn) AsyncWrite(p []byte, cb mill.AsyncCallback) error {
	c.queue(func() {
		c.asyncWrite(func() error { _, err := c.Write(p); return err }, cb)
	})
	return nil
}

// AsyncWritev is AsyncWrite for several buffers.
func (c *Conn) AsyncWritev(bs [][]byte, cb mill.AsyncCallback) error {
	c.queue(func() {
		c.asyncWrite(func() error { _, err := c.Writev(bs); return err }, cb)
	})
	return nil
}

// SetCodec sets the codec that ReadFrame, WriteFrame and AsyncWriteFrame
// use (nil removes it). A handler tested against a server option
// mill.WithCodec needs the same codec set here before Harness.OpenConn.
func (c *Conn) SetCodec(cd codec.Codec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.codec = cd
}

// ReadFrame decodes and consumes the next frame of buffered input, as
// mill's does: nil, nil when no complete frame is buffered; mill.ErrNoCodec
// without a codec; on a decode error, the error, and the connection
// closes with it, lingering, when the callback returns (writes still
// succeed until then). The frame is valid until the callback returns or
// the next Feed.
func (c *Conn) ReadFrame() ([]byte, error) {
	c.mu.Lock()
	defer c.unlock()
	if c.codec == nil {
		return nil, mill.ErrNoCodec
	}
	if c.doomed {
		return nil, c.closeErr
	}
	in := c.unread()
	if len(in) == 0 {
		return nil, nil
	}
	frame, n, err := c.codec.Decode(in)
	if err == nil && n > len(in) {
		err = fmt.Errorf("%w: decoder consumed %d of %d buffered bytes", codec.ErrCorruptFrame, n, len(in))
	}
	if err != nil {
		c.decodeFailed, c.lingering = true, true
		c.fail(err)
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if frame == nil {
		frame = in[:0]
	}
	c.r += n
	return frame, nil
}

// WriteFrame encodes p with the codec and writes the result as Write
// does. It fails with mill.ErrNoCodec without a codec, and with the
// codec's error if it cannot encode p. p is not retained.
func (c *Conn) WriteFrame(p []byte) error {
	c.mu.Lock()
	defer c.unlock()
	if c.codec == nil {
		return mill.ErrNoCodec
	}
	if err := c.writable(); err != nil {
		return err
	}
	b, err := c.codec.Encode(nil, p)
	if err != nil {
		return err
	}
	_, err = c.write(b)
	return err
}

// AsyncWriteFrame is AsyncWrite for WriteFrame: RunPending encodes and
// writes p, then cb hears the outcome.
func (c *Conn) AsyncWriteFrame(p []byte, cb mill.AsyncCallback) error {
	c.queue(func() {
		c.asyncWrite(func() error { return c.WriteFrame(p) }, cb)
	})
	return nil
}

// Submit queues task for RunPending, which runs it on the calling
// goroutine, outside handler code, as the worker pool would run it
// (tasks run in order; they still run if the connection closes
// meanwhile). It returns nil, or the error set with SetSubmitError.
func (c *Conn) Submit(task func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.submitErr != nil {
		return c.submitErr
	}
	c.pending = append(c.pending, task)
	return nil
}

// Do queues fn for RunPending, which runs it, with c, as handler code
// for the connection, exactly once, also if the connection has closed
// meanwhile. It returns nil.
func (c *Conn) Do(fn func(c mill.Conn)) error {
	c.queue(func() { c.callback(func() { fn(c) }) })
	return nil
}

// shutWrite makes CloseWrite take effect: writes fail from now on, and
// once the queue is empty our FIN is out; if the peer's came already, the
// connection closes (OnClose sees nil). c.mu held.
func (c *Conn) shutWrite() {
	c.writeShut = true
	if c.queued == 0 {
		c.finSent = true
		if c.peerEOF {
			c.closeLocked(nil)
		}
	}
}

// CloseWrite asks for the sending side to shut, as mill's does: it is
// queued work (see Close) that, once RunPending runs it, makes writes
// fail with mill.ErrClosed and, once the queue is empty, sends our FIN;
// reading goes on. CloseWriteCalled reports the call at once. It fails
// with mill.ErrClosed once the connection is closing.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.closeReq {
		return mill.ErrClosed
	}
	c.closeWriteCalled = true
	c.pending = append(c.pending, func() {
		c.mu.Lock()
		defer c.unlock()
		if !c.closed && !c.writeShut {
			c.shutWrite()
		}
	})
	return nil
}

// Close asks for the connection to close, as mill's does: from any
// goroutine, inside handler code or not, the close is queued work for the
// event loop, which RunPending runs after the work queued before it (so
// an AsyncWrite made before Close is written first). Until then writes
// still succeed; then they fail with mill.ErrClosed, the callbacks of
// asynchronous writes still waiting hear mill.ErrClosed, and, for a
// Harness-opened connection, OnClose runs with a nil error. Closed
// reports the request at once. Closing a closing connection returns
// mill.ErrClosed. (A handler's mill.Close action, by contrast, closes the
// connection as soon as the callback returns, as in mill.)
func (c *Conn) Close() error {
	return c.requestClose(false)
}

// CloseLingering is Close, recorded (see Lingering), that also drops
// unread input when it takes effect, as mill's lingering close does.
// There being no peer to wait for, it then completes at once.
func (c *Conn) CloseLingering() error {
	return c.requestClose(true)
}

// requestClose records a Close or CloseLingering and queues its effect.
func (c *Conn) requestClose(linger bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.closeReq {
		return mill.ErrClosed
	}
	c.closeReq = true
	c.lingering = c.lingering || linger
	c.pending = append(c.pending, func() {
		c.mu.Lock()
		defer c.unlock()
		c.closeLocked(nil)
	})
	return nil
}

// PauseReading stops the Harness from delivering input until
// ResumeReading (see ReadingPaused). It fails with mill.ErrClosed once
// the connection has closed or is closing lingering.
func (c *Conn) PauseReading() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.lingering {
		return mill.ErrClosed
	}
	c.paused = true
	return nil
}

// ResumeReading undoes PauseReading. Input held back meanwhile is
// delivered at the next Harness.Traffic, not now, as in mill.
func (c *Conn) ResumeReading() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.lingering {
		return mill.ErrClosed
	}
	c.paused = false
	return nil
}

// sockopt records a socket setting unless the connection has closed.
func (c *Conn) sockopt(set func(*SocketOptions)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return mill.ErrClosed
	}
	set(&c.sockopts)
	return nil
}

// SetNoDelay records on (see SocketOptions); mill.ErrClosed after close.
func (c *Conn) SetNoDelay(on bool) error {
	return c.sockopt(func(o *SocketOptions) { o.NoDelay = &on })
}

// SetKeepAlive records d (see SocketOptions); mill.ErrClosed after close.
func (c *Conn) SetKeepAlive(d time.Duration) error {
	return c.sockopt(func(o *SocketOptions) { o.KeepAlive = &d })
}

// SetLinger records sec (see SocketOptions); mill.ErrClosed after close.
func (c *Conn) SetLinger(sec int) error {
	return c.sockopt(func(o *SocketOptions) { o.Linger = &sec })
}

// SetReadBuffer records bytes (see SocketOptions); mill.ErrClosed after
// close.
func (c *Conn) SetReadBuffer(bytes int) error {
	return c.sockopt(func(o *SocketOptions) { o.ReadBuffer = &bytes })
}

// SetWriteBuffer records bytes (see SocketOptions); mill.ErrClosed after
// close.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return c.sockopt(func(o *SocketOptions) { o.WriteBuffer = &bytes })
}
