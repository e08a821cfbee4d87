package websocket

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Errors a connection closes with, matchable with errors.Is on the
// error OnClose receives (a *CloseError that wraps them).
var (
	// ErrProtocol: the peer broke RFC 6455 (a reserved bit, an unknown
	// opcode, an unmasked client frame, a fragmented or oversized
	// control frame, a continuation out of place, a bad close frame).
	// Closed with 1002.
	ErrProtocol = errors.New("websocket: protocol error")
	// ErrInvalidUTF8: a text message or a close reason was not valid
	// UTF-8. Closed with 1007.
	ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8")
	// ErrBadCompression: a compressed message did not inflate. Closed
	// with 1007.
	ErrBadCompression = errors.New("websocket: invalid compressed data")
	// ErrMessageTooBig: a message was larger than the limit (see
	// WithMaxMessage). Closed with 1009.
	ErrMessageTooBig = errors.New("websocket: message too big")
	// ErrPongTimeout: nothing came back within a ping interval after a
	// keep-alive ping (see WithPingInterval). Closed without a close
	// frame.
	ErrPongTimeout = errors.New("websocket: no answer to a keep-alive ping")
	// ErrCloseTimeout: the peer did not answer our close frame in time
	// (see WithCloseTimeout).
	ErrCloseTimeout = errors.New("websocket: close handshake timed out")
	// ErrHandshake: the opening handshake failed (a client's dial; see
	// *HandshakeError for the server's answer).
	ErrHandshake = errors.New("websocket: handshake failed")
	// ErrClosed: a write on a connection that is closing or has
	// closed, or a call from another goroutine (AsyncWriteMessage,
	// AsyncPing, Close ...) that can no longer reach the connection's
	// loop. (Close on a connection already closing does nothing and
	// returns nil.)
	ErrClosed = errors.New("websocket: connection closed")
	// ErrBadOpcode: an opcode other than OpText or OpBinary where a
	// message's is expected (WriteMessage, AsyncWriteMessage,
	// NewPrepared).
	ErrBadOpcode = errors.New("websocket: bad opcode for this write")
	// ErrControlTooLong: a control frame's payload (a ping, a pong, a
	// close code and reason) longer than 125 bytes.
	ErrControlTooLong = errors.New("websocket: control frame payload over 125 bytes")
	// ErrBadStatus: a close with a status code that may not be sent.
	ErrBadStatus = errors.New("websocket: status code not allowed in a close frame")
)

var errNilHandler = errors.New("websocket: nil Handler")

// errNilPrepared refuses a write of a nil *Prepared.
var errNilPrepared = errors.New("websocket: nil *Prepared")

// HandshakeError is a client's failed opening handshake: the server
// answered with something other than a valid 101 response. It wraps
// ErrHandshake.
type HandshakeError struct {
	Status int    // the response's status code; 0 if there was no valid response
	Reason string // what was wrong
	// Header is the response's header fields (WWW-Authenticate,
	// Retry-After, Location...), nil if there was no valid response.
	Header http.Header
}

// Error describes the failure.
func (e *HandshakeError) Error() string {
	if e.Status != 0 {
		return "websocket: handshake failed: status " + strconv.Itoa(e.Status) + ": " + e.Reason
	}
	return "websocket: handshake failed: " + e.Reason
}

// Unwrap returns ErrHandshake.
func (e *HandshakeError) Unwrap() error { return ErrHandshake }

// CloseError is what OnClose receives: how the connection ended.
//
// After a close handshake Code and Reason are what the close frame
// said (Code StatusNoStatus for one without a code) and Remote tells
// whether the peer sent it first. When the connection failed, Code is
// the status mill sent for the failure (StatusProtocolError,
// StatusInvalidPayload, StatusMessageTooBig), or StatusAbnormal when
// no close frame was exchanged, and Err is the cause (ErrProtocol,
// ErrInvalidUTF8, ErrMessageTooBig, ErrPongTimeout, a mill error such as
// mill.ErrSlowConsumer or mill.ErrIdleTimeout, io.ErrUnexpectedEOF for a
// peer that vanished), which errors.Is finds through Unwrap.
type CloseError struct {
	Code   StatusCode
	Reason string
	// Remote: the peer closed first, or failed (a protocol violation,
	// invalid data, an unanswered ping, its end of stream or a reset);
	// false for our close frame and for mill's decisions (a slow
	// consumer, a timeout, a shutdown, a handler's panic).
	Remote bool
	Err    error // nil after a close handshake
}

// Error describes the close.
func (e *CloseError) Error() string {
	var b strings.Builder
	b.WriteString("websocket: closed ")
	b.WriteString(e.Code.String())
	if e.Reason != "" {
		b.WriteString(" \"")
		b.WriteString(e.Reason)
		b.WriteString("\"")
	}
	if e.Remote {
		b.WriteString(" by the peer")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause of a failure, or nil.
func (e *CloseError) Unwrap() error { return e.Err }

// CloseStatus returns the status code of err if it is (or wraps) a
// *CloseError, else 0.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
