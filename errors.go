package mill

import "errors"

var (
	// ErrServerClosed is returned by Serve after a shutdown and passed to
	// OnClose for connections the shutdown closed. It also refuses work
	// once a shutdown has begun: asynchronous writes and Conn.Submit
	// during a graceful drain, a Client's Dial, DialAsync and Enroll after
	// Stop, and SendTo on a server's closed UDP socket.
	ErrServerClosed = errors.New("mill: server closed")
	// ErrClosed is returned by writes to a closed connection (or one whose
	// sending side CloseWrite or CloseLingering shut), by a second Close,
	// and by the other operations the Conn documentation lists, and is
	// passed to the callbacks of asynchronous writes it did not finish.
	ErrClosed = errors.New("mill: connection closed")
	// ErrUnsupportedPlatform is returned by NewServer on systems without
	// epoll or kqueue.
	ErrUnsupportedPlatform = errors.New("mill: unsupported platform (need Linux, macOS or a BSD)")
	// ErrHandlerPanic is matched (with errors.Is) by the error a
	// connection closes with when handler code for it panicked; the error
	// is a *PanicError carrying the value and stack.
	ErrHandlerPanic = errors.New("mill: handler panic")
	// ErrOutboundFull is returned by a write that would take a
	// connection's queued output past its limit (WithOutboundLimit) under
	// the FailWrite policy; nothing of it is queued.
	ErrOutboundFull = errors.New("mill: outbound queue full")
	// ErrSlowConsumer closes a connection whose queued output would pass
	// its limit under the CloseSlowConsumer policy (the default); the
	// write that would have passed it returns it too.
	ErrSlowConsumer = errors.New("mill: slow consumer")
	// ErrInboundLimit closes a connection whose unread input reached the
	// inbound limit (WithInboundLimit) while nothing was left that could
	// consume it: a message larger than the limit, say, that the handler
	// waits to see whole.
	ErrInboundLimit = errors.New("mill: unread input stuck at the inbound limit")
	// ErrOnEventLoop is returned by calls that wait for an event loop
	// (Client.Dial and DialContext, Client.Stop, Server.Shutdown) when
	// they are made on that loop, where they would wait for themselves.
	ErrOnEventLoop = errors.New("mill: blocking call made on an event loop")
	// ErrIdleTimeout closes a connection that sent and received nothing
	// for its idle timeout (WithIdleTimeout, Conn.SetIdleTimeout).
	ErrIdleTimeout = errors.New("mill: idle timeout")
	// ErrReadTimeout closes a connection whose unread input (an
	// incomplete frame or request) waited its read timeout without the
	// handler consuming any of it (WithReadTimeout, Conn.SetReadTimeout).
	ErrReadTimeout = errors.New("mill: read timeout")
	// ErrWriteTimeout closes a connection whose queued output was not
	// all sent within its write timeout of when it began to wait
	// (WithWriteTimeout, Conn.SetWriteTimeout).
	ErrWriteTimeout = errors.New("mill: write timeout")
	// ErrNoCodec is returned by the frame methods of a connection that has
	// no codec (see WithCodec and Conn.SetCodec).
	ErrNoCodec = errors.New("mill: connection has no codec")
	// ErrInvalidAddress is matched (with errors.Is) by the error NewServer
	// returns for an address it cannot parse.
	ErrInvalidAddress = errors.New("mill: invalid address")
	// ErrTLS is matched (with errors.Is) by the error a TLS connection
	// closes with when its TLS failed after the handshake: the peer sent
	// an alert, a record that does not decrypt, or a message out of
	// place. The error also matches crypto/tls's (tls.AlertError, ...).
	ErrTLS = errors.New("mill: TLS failed")
)

var (
	// ErrNoPeer is returned by the Write methods of a server's UDP
	// PacketConn outside OnTraffic and OnDatagramError, and by its
	// asynchronous writes (also to their callbacks): an unconnected
	// socket has a peer only while a datagram is being delivered. Use
	// SendTo. (A Client's connected UDP socket always has its peer.)
	ErrNoPeer = errors.New("mill: datagram conn has no peer here; use SendTo")
	// ErrDatagramTruncated is passed to OnDatagramError for a datagram
	// longer than the read buffer (WithReadBufferCap): it is dropped
	// rather than delivered cut short.
	ErrDatagramTruncated = errors.New("mill: datagram truncated")
	// ErrDialTimeout fails a Client connection attempt that took longer
	// than WithDialTimeout. Its Timeout method reports true, so the
	// *net.OpError wrapping it does too.
	ErrDialTimeout error = timeoutError("mill: dial timeout")
)

// errPacketPause is returned by PauseReading and ResumeReading on a UDP
// socket.
var errPacketPause = errors.New("mill: PauseReading and ResumeReading are for stream connections, not UDP sockets")

// timeoutError is an error that says it is a timeout, as net.Error does.
type timeoutError string

func (e timeoutError) Error() string   { return string(e) }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }
