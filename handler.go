package mill

import "time"

// Action tells the server what to do after a callback returns.
type Action int

const (
	// None carries on.
	None Action = iota
	// Close closes the connection the callback was about, as Conn.Close
	// does (ignored where there is none, as in OnBoot and OnTick, and
	// from OnClose and a server's UDP socket).
	Close
	// Shutdown shuts the whole server down. Unlike Server.Shutdown it
	// does not drain: connections close after a best-effort flush, and
	// OnClose sees ErrServerClosed.
	Shutdown
)

// String returns the action's name.
func (a Action) String() string {
	switch a {
	case None:
		return "None"
	case Close:
		return "Close"
	case Shutdown:
		return "Shutdown"
	}
	return "Action(?)"
}

// Handler receives a server's events. Connection callbacks run on the
// connection's event loop, one at a time and in order; they must not
// block (hand blocking work to another goroutine and answer with
// Conn.AsyncWrite). Embed BuiltinHandler to implement only what you need.
type Handler interface {
	// OnBoot runs once, on the goroutine that runs Serve (a Client's
	// own, started by Start), before the loops start and the server
	// accepts connections. Returning Shutdown shuts the server down at
	// once; a panic in OnBoot does too, and Serve returns it as a
	// *PanicError.
	OnBoot(s *Server) Action
	// OnOpen runs on the connection's loop when it is accepted, adopted
	// (Client.Enroll) or established (Client.Dial, DialAsync). A server's
	// UDP sockets have none. out, if not empty, is written to the
	// connection as OnOpen returns, after anything OnOpen wrote itself;
	// it is not retained. Returning Close closes the connection after
	// that write.
	OnOpen(c Conn) (out []byte, a Action)
	// OnTraffic runs on the connection's loop when new bytes arrived.
	// Read them with Peek, Next, Discard, Read or ReadFrame; bytes left
	// unread stay buffered and are seen again, with the next bytes, at
	// the next call. On a UDP socket it runs once per datagram, with a
	// PacketConn.
	OnTraffic(c Conn) Action
	// OnClose runs exactly once for every connection OnOpen saw, on its
	// loop, after the last OnTraffic and before the descriptor is closed;
	// and once, without OnOpen, for a Client connection attempt that
	// failed (err says why).
	// err is nil when the peer or the handler closed the connection
	// cleanly (Close, CloseLingering, the peer's FIN), ErrServerClosed
	// when the server shut down, or why mill closed it: a timeout error,
	// ErrSlowConsumer, ErrInboundLimit, the codec's decode error, a
	// *PanicError, or the socket's error. Input left unread can still be
	// read (a lingering close has dropped it); writes fail with
	// ErrClosed. Returning Shutdown shuts the server down; Close is
	// ignored.
	OnClose(c Conn, err error) Action
	// OnShutdown runs once when the server starts shutting down, on the
	// goroutine that runs Serve, after accepting has stopped and before
	// connections are drained or closed. A server that never served gets
	// none.
	OnShutdown(s *Server)
	// OnTick runs on the first event loop (between the callbacks of the
	// connections it serves, so it must not block either) when the
	// server was created WithTicker(true): first as soon as the server
	// serves, then again after each returned delay, until shutdown
	// begins. A delay <= 0 stops the ticker, and so does a panic in
	// OnTick (it is logged; the server carries on). Returning Shutdown
	// shuts the server down; Close is ignored.
	OnTick() (delay time.Duration, a Action)
}

// HalfCloseHandler is an optional extension of Handler, used by servers
// created WithHalfOpen(true). OnHalfClose runs on the connection's loop
// when the peer has shut its sending side (TCP FIN), after OnTraffic has
// seen every byte sent before it. The connection can still be written
// to; it stays open until the handler closes it (by returning Close,
// calling Conn.Close or Conn.CloseLingering, or Conn.CloseWrite, which
// closes it once both sides are shut), or a timeout or failure does.
// WithHalfOpen keeps such connections open with or without a
// HalfCloseHandler.
type HalfCloseHandler interface {
	OnHalfClose(c Conn) Action
}

// WritabilityHandler is an optional extension of Handler. Its
// OnWritabilityChanged runs on the connection's loop when the connection's
// queued output passes the high watermark (writable false: pause
// producing) and when it falls back below the low one (writable true).
// It runs as a loop task after the write or send that crossed the
// watermark, not inside it; false and true come in pairs, in order, even
// if the queue has drained again by then. See WithWriteWatermarks and
// Conn.Writable.
type WritabilityHandler interface {
	OnWritabilityChanged(c Conn, writable bool)
}

// BuiltinHandler implements every Handler method as a no-op. Embed it in
// your handler and override what you need.
type BuiltinHandler struct{}

// OnBoot returns None.
func (BuiltinHandler) OnBoot(*Server) Action { return None }

// OnOpen returns no output and None.
func (BuiltinHandler) OnOpen(Conn) ([]byte, Action) { return nil, None }

// OnTraffic returns None, leaving the input buffered.
func (BuiltinHandler) OnTraffic(Conn) Action { return None }

// OnClose returns None.
func (BuiltinHandler) OnClose(Conn, error) Action { return None }

// OnShutdown does nothing.
func (BuiltinHandler) OnShutdown(*Server) {}

// OnTick stops the ticker.
func (BuiltinHandler) OnTick() (time.Duration, Action) { return 0, None }
