package websocket

import "strconv"

// Opcode is a frame's opcode (RFC 6455 §5.2). Messages are OpText or
// OpBinary; OpClose, OpPing and OpPong are control frames.
type Opcode byte

// The opcodes RFC 6455 defines.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// String returns the opcode's name.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(op)) + ")"
}

// isControl reports whether op is a control opcode (0x8 to 0xF).
func (op Opcode) isControl() bool { return op&0x8 != 0 }

// StatusCode is a close frame's status code (RFC 6455 §7.4).
type StatusCode uint16

// Status codes of RFC 6455 §7.4.1 and the IANA registry.
const (
	StatusNormal             StatusCode = 1000
	StatusGoingAway          StatusCode = 1001
	StatusProtocolError      StatusCode = 1002
	StatusUnsupportedData    StatusCode = 1003
	StatusNoStatus           StatusCode = 1005 // never sent: the close frame had no code
	StatusAbnormal           StatusCode = 1006 // never sent: the connection closed without a close frame
	StatusInvalidPayload     StatusCode = 1007
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
	StatusTLSHandshake       StatusCode = 1015 // never sent
)

// validWire reports whether code may appear in a close frame: the
// codes RFC 6455 and the IANA registry assign for use on the wire
// (1000–1003, 1007–1014) and the ranges left to libraries and
// applications (3000–4999).
func (code StatusCode) validWire() bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// String returns the code's number and, for the codes RFC 6455 names,
// its name.
func (code StatusCode) String() string {
	n := strconv.Itoa(int(code))
	switch code {
	case StatusNormal:
		return n + " (normal closure)"
	case StatusGoingAway:
		return n + " (going away)"
	case StatusProtocolError:
		return n + " (protocol error)"
	case StatusUnsupportedData:
		return n + " (unsupported data)"
	case StatusNoStatus:
		return n + " (no status)"
	case StatusAbnormal:
		return n + " (abnormal closure)"
	case StatusInvalidPayload:
		return n + " (invalid payload data)"
	case StatusPolicyViolation:
		return n + " (policy violation)"
	case StatusMessageTooBig:
		return n + " (message too big)"
	case StatusMandatoryExtension:
		return n + " (mandatory extension)"
	case StatusInternalError:
		return n + " (internal error)"
	case StatusServiceRestart:
		return n + " (service restart)"
	case StatusTryAgainLater:
		return n + " (try again later)"
	case StatusBadGateway:
		return n + " (bad gateway)"
	case StatusTLSHandshake:
		return n + " (TLS handshake)"
	}
	return n
}
