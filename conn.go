package mill

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/proxyproto"
)

// AsyncCallback reports the outcome of an asynchronous write: err is nil
// once all its bytes were handed to the kernel, otherwise the reason they
// were not (ErrClosed when the connection went away first). It runs on
// the connection's event loop and must not block; only a write refused
// at once (the loop has stopped, or a graceful shutdown is draining)
// hears its error on the goroutine that called AsyncWrite, before that
// call returns, where the connection's loop-only methods must not be
// used.
type AsyncCallback func(c Conn, err error)

// Conn is one connection. Its methods fall into two groups:
//
//   - Loop-only: Peek, Next, Discard, Read, InboundBuffered, Write,
//     Writev, Flush, OutboundBuffered, SetCodec, ReadFrame, WriteFrame,
//     PauseReading, ResumeReading, the SetXxxTimeout methods, the socket
//     settings (SetNoDelay, SetKeepAlive, SetLinger, SetReadBuffer,
//     SetWriteBuffer), Context and SetContext may only be called on the
//     connection's event loop, that is, inside a Handler callback for
//     this connection, or inside an AsyncCallback, a Do function or other
//     code the loop runs for it.
//   - Any goroutine: AsyncWrite, AsyncWritev, AsyncWriteFrame, Submit, Do,
//     Writable, Close, CloseWrite, CloseLingering, LocalAddr, RemoteAddr
//     and Fd.
//
// Slices returned by Peek, Next and ReadFrame alias mill's buffers. They
// stay valid until the callback that obtained them returns; copy what you
// keep longer. Do not write to them.
//
// A Conn stays a safe handle after it closes, and nothing done through it
// ever reaches another connection that reuses the descriptor. Once it
// has closed (from OnClose on):
//
//   - Write, Writev, Flush and WriteFrame return ErrClosed (WriteFrame
//     returns ErrNoCodec first if there is no codec); so do PauseReading,
//     ResumeReading, the socket settings, Close, CloseWrite and
//     CloseLingering.
//   - The input methods see what was left unread while OnClose runs, and
//     nothing after: then Peek and Next return no bytes (with
//     io.ErrShortBuffer for n > 0), Read returns io.EOF, Discard and
//     InboundBuffered 0, and ReadFrame no frame (nil, nil), or the error
//     a failure closed the connection with (ErrNoCodec without a codec).
//   - Asynchronous writes report ErrClosed to their callback; a Do
//     function and a Submit task still run.
//   - Context and SetContext work as before; the SetXxxTimeout methods
//     and SetCodec are accepted and change nothing.
//
// Writes also return ErrClosed once CloseWrite or CloseLingering has taken
// effect, and a lingering close drops unread input at once.
type Conn interface {
	// LocalAddr is the connection's local address: the address it was
	// accepted on, or the one the system chose for a Client's connection;
	// after a PROXY protocol header, the address the client connected to
	// as the header says it.
	// Where the server listens on one specific address it is that one;
	// otherwise (a wildcard or several addresses, a Client) it is asked
	// of the socket on each call, and is nil once the descriptor has
	// closed (after OnClose), when its number may name another socket.
	LocalAddr() net.Addr
	// RemoteAddr is the peer's address (a new value on each call); an
	// unnamed *net.UnixAddr for a Unix-domain peer; after a PROXY protocol
	// header with addresses, the client's as the header says it.
	RemoteAddr() net.Addr
	// Fd is the socket descriptor, for socket options. Do not read,
	// write or close it; it may belong to another connection once this
	// one has closed. On a TLS connection it carries the encrypted
	// bytes.
	Fd() int
	// TLS reports what a TLS connection's handshake negotiated: the
	// version, cipher suite, ALPN protocol, the server name the client
	// asked for, the peer's certificates, whether the session was
	// resumed. ok is false on a plaintext connection. Handlers see only
	// connections whose handshake is done (see WithTLS and
	// Client.DialTLS), except in the OnClose of a Client's connection
	// whose handshake failed, where the state is empty
	// (HandshakeComplete false). Any goroutine.
	TLS() (state tls.ConnectionState, ok bool)
	// Proxy returns the PROXY protocol header the connection began with
	// (see WithProxyProtocol): the client's and the balancer's addresses
	// as the balancer reports them (RemoteAddr and LocalAddr report the
	// same), and its TLVs (proxyproto.Header's helpers read the common
	// ones). ok is false without a header. The header and its bytes stay
	// valid and unchanged for the connection's life. Any goroutine.
	Proxy() (h proxyproto.Header, ok bool)
	// Server is the server the connection belongs to: the one that
	// accepted it, or for a Client's connection the Client's own (the
	// *Server its handler's OnBoot and OnShutdown receive). A handler
	// shared by several servers tells their connections apart with it,
	// and learns from its Stopping channel whether the connection's
	// server is shutting down. nil for a milltest fake connection. Any
	// goroutine.
	Server() *Server

	// SetIdleTimeout, SetReadTimeout and SetWriteTimeout override the
	// server's WithIdleTimeout, WithReadTimeout and WithWriteTimeout for
	// this connection; 0 turns one off. A new value applies to the time
	// already counted, not from the call: the idle timeout counts from the
	// last byte read or handed to the kernel, the read timeout from when
	// unread input began to wait or was last consumed from (see
	// WithReadTimeout), the write timeout from when output
	// began to wait in the queue (on a server with no timeouts, counting
	// starts at the first of these calls); a deadline already past closes
	// the connection soon after the current callback returns. They do
	// nothing on a UDP socket. Loop-only.
	SetIdleTimeout(d time.Duration)
	SetReadTimeout(d time.Duration)
	SetWriteTimeout(d time.Duration)
	// SetQuietFunc runs fn, as handler code on the connection's loop,
	// once nothing has been read from the connection for d, and again
	// each time another d passes without input: a keep-alive probe that
	// sends a ping and closes the connection when a second call finds
	// the ping unanswered (package websocket's WithPingInterval does
	// this). The count starts at the call and restarts at every read
	// and every call of fn; a lingering close stops the calls. It uses
	// the connection's timeout timer (no timer per call). d <= 0 or a
	// nil fn turns it off. A panic in fn closes the connection with
	// ErrHandlerPanic. Nothing on a UDP socket. Loop-only.
	SetQuietFunc(d time.Duration, fn func(c Conn))

	// Context returns what SetContext stored. Loop-only.
	Context() any
	// SetContext stores per-connection state. Loop-only.
	SetContext(ctx any)

	// Peek returns the next n buffered input bytes without consuming
	// them; n < 0 means all of them. If fewer than n are buffered it
	// returns those and io.ErrShortBuffer. Loop-only.
	Peek(n int) ([]byte, error)
	// Next is Peek that also consumes what it returns, also when it
	// returns fewer than n bytes with io.ErrShortBuffer. Loop-only.
	Next(n int) ([]byte, error)
	// Discard drops up to n buffered input bytes (n < 0: all) and
	// returns how many it dropped; the error is always nil. Loop-only.
	Discard(n int) (int, error)
	// Read copies buffered input into p like a bytes.Reader: it never
	// waits for the socket and returns io.EOF when nothing is buffered
	// (and len(p) > 0). io.EOF here means only that no input is buffered
	// now, not that the peer has closed. Loop-only.
	Read(p []byte) (int, error)
	// InboundBuffered is how many input bytes are buffered. Loop-only.
	InboundBuffered() int

	// Write writes p at once; what the socket does not take is queued
	// (copied) and sent when the socket is writable. It returns len(p),
	// or 0 and an error with nothing of p written: ErrClosed once the
	// connection is closed or its sending side shut (CloseWrite,
	// CloseLingering); the socket's error once a write failed (the
	// connection closes once the current callback returns, and later
	// writes in it return the same error); or, if p would take the queue
	// past its limit (see WithOutboundLimit), ErrSlowConsumer by default
	// (the connection closes once the callback returns) or
	// ErrOutboundFull under FailWrite (the connection stays open). A
	// socket error met later, while sending queued output, closes the
	// connection and reaches OnClose. While the queue is past the high
	// watermark, flow control (WithFlowControl) stops reading the
	// connection, so a handler that answers what it reads stays bounded
	// without checking Writable. With WithWriteBatching, a Write inside a
	// callback queues p (copied) to go out when the loop has handled the
	// rest of its work (unless p is 8 KiB or more, nothing is queued and
	// the connection is not TLS: then it is sent at once). Loop-only; p is not retained.
	Write(p []byte) (int, error)
	// Writev is Write for several buffers, sent with one writev call.
	// Loop-only; bs is not retained.
	Writev(bs [][]byte) (int, error)
	// Flush tries to send queued output now, batched output included;
	// what the socket does not take stays queued. It returns ErrClosed as
	// Write does, or the socket's error (the connection then closes once
	// the callback returns). Loop-only.
	Flush() error
	// OutboundBuffered is how many output bytes are queued. Loop-only.
	OutboundBuffered() int
	// Writable reports whether queued output is below the high
	// watermark (or, once above, has fallen below the low one): a
	// producer should pause while it is false. Writes still succeed
	// until the hard limit (see WithOutboundLimit). Any goroutine.
	Writable() bool

	// AsyncWrite writes p on the connection's loop, as Write does there,
	// and returns nil once the write is submitted. Any goroutine. cb, if
	// not nil, runs exactly once on the loop: with nil when all of p was
	// handed to the kernel, or with the error that stopped it (ErrClosed
	// if the connection closed first, else an error Write returns). If
	// the loop has already stopped, cb runs before AsyncWrite returns, on
	// the calling goroutine, and AsyncWrite returns ErrClosed; likewise
	// with ErrServerClosed once a graceful shutdown has begun draining
	// (except for the answers of worker-pool tasks already running for
	// the connection), so that producers cannot hold the drain up. p must
	// not be modified until cb runs. Writes from one goroutine to one
	// connection keep their order.
	AsyncWrite(p []byte, cb AsyncCallback) error
	// AsyncWritev is AsyncWrite for several buffers. Any goroutine.
	AsyncWritev(bs [][]byte, cb AsyncCallback) error

	// SetCodec sets the codec that frames the byte stream from now on
	// (nil removes it); unread input is decoded by the new codec. Use it
	// to switch protocols on a live connection, say after a handshake
	// line. Loop-only.
	SetCodec(c codec.Codec)
	// ReadFrame decodes and consumes the next frame of buffered input. It
	// returns nil, nil when no complete frame is buffered yet; a complete
	// empty frame is a non-nil empty slice. On a decode error it returns
	// the error (matchable with errors.Is against codec.ErrFrameTooLong
	// or codec.ErrCorruptFrame), and so does every later call; once the
	// callback returns, the connection closes lingering (see
	// CloseLingering) and OnClose sees the same error. Until then the
	// handler may still write, say a protocol error reply: it goes out
	// before our FIN. After a failure doomed the connection (a write
	// error, say) it returns that error. Without a codec it returns
	// ErrNoCodec. The frame is valid until the callback returns.
	// Loop-only. Typical use, in OnTraffic:
	//
	//	for {
	//		f, err := c.ReadFrame()
	//		if f == nil || err != nil {
	//			return mill.None // wait for more input, or closing
	//		}
	//		c.WriteFrame(handle(f))
	//	}
	ReadFrame() ([]byte, error)
	// WriteFrame encodes p with the connection's codec and writes it as
	// Write does. An encoding error (wrapping codec.ErrFrameTooLong or
	// codec.ErrCorruptFrame) is returned with nothing written, and the
	// connection stays open. Without a codec it returns ErrNoCodec.
	// Loop-only; p is not retained.
	WriteFrame(p []byte) error
	// AsyncWriteFrame encodes p on the connection's loop and writes it,
	// with AsyncWrite's guarantees; cb hears an encoding error, or
	// ErrNoCodec, as WriteFrame would return it. Any goroutine; p must
	// not be modified until cb runs.
	AsyncWriteFrame(p []byte, cb AsyncCallback) error

	// Submit runs task on the server's worker pool (see WithWorkerPool),
	// after every task submitted for this connection before it: one
	// connection's tasks run one at a time, in order, while different
	// connections' run in parallel. Use it for blocking work and answer
	// with AsyncWrite or AsyncWriteFrame. It returns
	// workerpool.ErrPoolOverload when the pool's queue is full (a
	// Blocking pool waits for room instead), and ErrServerClosed once a
	// graceful shutdown has begun draining or the pool has been released.
	// Tasks still run if the connection closes meanwhile; their writes
	// then report ErrClosed. A panic in task is logged and closes the
	// connection with ErrHandlerPanic. On a PacketConn, see there. Any
	// goroutine.
	Submit(task func()) error

	// Do runs fn on the connection's loop, with c, as soon as the loop
	// gets to it: after the writes and other work already submitted for c
	// have started, but without waiting, as an AsyncWrite callback does,
	// for queued output to reach the kernel. fn may use the loop-only
	// methods: consume input held back, say, or resume forwarding once
	// another connection drained. If Do returns nil, fn runs exactly once,
	// also when c has closed meanwhile (see Conn for what its methods do
	// then); if the loop has stopped, Do returns ErrClosed and fn never
	// runs. Unlike AsyncWrite, Do is not refused while a graceful
	// shutdown drains. A panic in fn closes c with ErrHandlerPanic. Any
	// goroutine.
	Do(fn func(c Conn)) error

	// CloseWrite shuts the sending side once queued output has gone out
	// (the peer reads end of stream) while reading goes on; once the peer
	// has shut its side too, the connection closes (OnClose sees nil).
	// Any goroutine; like Close, it takes effect on the loop once the
	// current callback returns, after writes made or submitted before it;
	// writes after that fail with ErrClosed. It returns ErrClosed if the
	// connection is closed or closing (Close or CloseLingering was
	// called) or its loop has stopped; a second CloseWrite does nothing.
	CloseWrite() error

	// Close closes the connection: one last try to send queued output,
	// without waiting (what the socket does not take then is lost, and
	// counted in Stats' OutputDropped; CloseLingering sends it all
	// first), then the callbacks of
	// unfinished asynchronous writes hear ErrClosed and OnClose runs with
	// a nil error. Any goroutine; the close happens on the loop once the
	// current callback returns. It returns ErrClosed if the connection is
	// closed or closing already (Close or CloseLingering was called) or
	// its loop has stopped. Input still unread when a socket closes makes
	// the kernel reset the connection, which can destroy a reply the peer
	// has not read yet: after an error reply, use CloseLingering.
	Close() error

	// CloseLingering closes the connection without losing what was
	// written last. Once it takes effect — on the loop, after the current
	// callback returns and after writes made or submitted before it, as
	// for Close — writes stop (they fail with ErrClosed), unread input
	// is dropped, queued output goes out, our FIN follows, and input is
	// read and dropped until the peer's FIN; then the connection closes
	// (OnClose sees nil). WithLingerTimeout bounds all of it, from when
	// it takes effect: if it passes first, the connection closes anyway,
	// dropping any output still queued (counted in OutputDropped). Use it
	// after an error reply to a
	// peer that may still be sending, where Close could make the kernel
	// reset the connection and the peer lose the reply. Any goroutine;
	// it takes effect, and returns ErrClosed, as Close does.
	CloseLingering() error

	// PauseReading stops reading the connection until ResumeReading:
	// no OnTraffic runs, unread input stays buffered, and TCP pushes back
	// on the peer once the socket's buffers fill. A connection paused by
	// its handler is not closed for its unread input at the inbound
	// limit or after the peer's FIN: use it to hold input on purpose
	// until another event says so (a proxy whose other side is full, say,
	// resumed from a Do). A graceful shutdown still closes it, and the
	// idle and write timeouts still apply; the read timeout does not run
	// while reading is paused. It returns ErrClosed once the connection is
	// closed or lingering. Loop-only; on a UDP socket both fail.
	PauseReading() error
	// ResumeReading undoes PauseReading; reading resumes unless another
	// pause holds (flow control, the inbound limit). Input already
	// buffered is not delivered again until more arrives: consume it in
	// the callback that resumes. It returns ErrClosed once the connection
	// is closed or lingering. Loop-only.
	ResumeReading() error

	// SetNoDelay, SetKeepAlive, SetLinger, SetReadBuffer and
	// SetWriteBuffer set the socket options net.TCPConn's methods of the
	// same names set (TCP_NODELAY, keep-alive probes after d of silence
	// and every d thereafter, rounded up to whole seconds, or off for
	// d <= 0, SO_LINGER, SO_RCVBUF, SO_SNDBUF), overriding the server's
	// options for this connection. The TCP ones fail on a Unix-domain or
	// UDP socket. Loop-only (a closed connection's descriptor may belong
	// to another one); after close they return ErrClosed (a lingering
	// close still lets them work).
	SetNoDelay(on bool) error
	SetKeepAlive(d time.Duration) error
	SetLinger(sec int) error
	SetReadBuffer(bytes int) error
	SetWriteBuffer(bytes int) error

	sealed()
}

// PacketConn is the Conn of a UDP socket: type-assert a Conn to it.
//
// A server's UDP socket hands it to OnTraffic once per datagram. While
// OnTraffic runs, Peek, Next, Read and ReadFrame read that datagram
// (bytes left unread are dropped with it; datagrams are never merged or
// split; a decode error drops the rest of it), RemoteAddr is its sender,
// and Write, Writev and WriteFrame each send one datagram back to the
// sender at once; inside OnDatagramError they do the same for the sender
// it names. Outside those callbacks there is no sender: RemoteAddr is nil
// (and loop-only, on a server's socket), and the Write methods and,
// always, the asynchronous ones fail with ErrNoPeer (once the socket has
// closed, with ErrServerClosed and ErrClosed); answer later with SendTo.
// One PacketConn serves every datagram of a socket (so a datagram costs
// no allocation): do not keep it to mean a peer. Such sockets get no
// OnOpen or OnClose; Close, CloseWrite and CloseLingering do nothing and
// return nil; Submit's tasks run in parallel, in no order, and a panic in
// one, or in a Do function, is logged and the socket carries on. Context
// is per socket, and an address has one socket per loop where the kernel
// spreads datagrams (see WithReusePort).
//
// A Client's UDP socket (Dial("udp", ...)) is connected to one peer and
// behaves like a connection: OnOpen, OnTraffic per datagram, writes to
// the peer from any callback, asynchronous writes, Submit tasks in order
// (a panic in one is only logged), Close (CloseWrite and CloseLingering
// are Close) and OnClose. An ICMP error for it (say, port unreachable)
// reaches OnDatagramError; the socket stays open.
//
// On every UDP socket nothing is queued: a write the socket cannot take
// at once fails (EAGAIN), Flush does nothing, OutboundBuffered is 0 and
// Writable true. Timeouts do not apply (the SetXxxTimeout methods do
// nothing), and PauseReading and ResumeReading fail.
type PacketConn interface {
	Conn
	// SendTo sends p as one datagram to to, a *net.UDPAddr, from the
	// socket. Any goroutine; once the socket has closed it fails with
	// ErrServerClosed (a server's) or ErrClosed (a Client's). On a
	// Client's connected socket use Write: the BSDs refuse an address
	// there (EISCONN).
	SendTo(p []byte, to net.Addr) (int, error)
}

// DatagramErrorHandler is an optional extension of Handler for UDP.
// OnDatagramError runs on the loop for a datagram a socket could not
// deliver: one longer than the read buffer (ErrDatagramTruncated,
// dropped, not cut), or an error the socket reported, such as, on a
// Client's connected UDP socket, an ICMP port-unreachable for an earlier
// send (ECONNREFUSED; a server's unconnected sockets do not hear these).
// c.RemoteAddr() is the sender, where known. The socket carries on.
// Without a DatagramErrorHandler these are logged, at most once a second
// per socket.
type DatagramErrorHandler interface {
	OnDatagramError(c Conn, err error)
}
