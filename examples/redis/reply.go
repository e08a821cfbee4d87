package main

import (
	"bytes"
	"strconv"
)

// RESP2 reply encoders. Each appends one reply to out and returns the
// extended slice; none allocates when out has room.

func appendSimple(out []byte, s string) []byte {
	out = append(out, '+')
	out = append(out, s...)
	return append(out, '\r', '\n')
}

func appendInt(out []byte, n int64) []byte {
	out = append(out, ':')
	out = strconv.AppendInt(out, n, 10)
	return append(out, '\r', '\n')
}

func appendBulk(out, b []byte) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, '\r', '\n')
	out = append(out, b...)
	return append(out, '\r', '\n')
}

func appendBulkString(out []byte, s string) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(s)), 10)
	out = append(out, '\r', '\n')
	out = append(out, s...)
	return append(out, '\r', '\n')
}

func appendNull(out []byte) []byte { return append(out, "$-1\r\n"...) }

func appendArray(out []byte, n int) []byte {
	out = append(out, '*')
	out = strconv.AppendInt(out, int64(n), 10)
	return append(out, '\r', '\n')
}

// appendError appends "-" msg CRLF; msg carries its own code ("ERR ...").
func appendError(out []byte, msg string) []byte {
	out = append(out, '-')
	out = append(out, msg...)
	return append(out, '\r', '\n')
}

// Replies Redis shares between commands.
const (
	errSyntax    = "ERR syntax error"
	errNotInt    = "ERR value is not an integer or out of range"
	errOverflow  = "ERR increment or decrement would overflow"
	errNoProto   = "NOPROTO unsupported protocol version"
	errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
)

// errorBuilder builds an error reply that quotes client input the way
// Redis's addReplyErrorFormat does: "%.Ns" stops at a NUL and after N
// bytes, and CR and LF become spaces so the reply stays one line.
type errorBuilder struct{ out []byte }

func newError(out []byte, prefix string) errorBuilder {
	out = append(out, '-')
	return errorBuilder{append(out, prefix...)}
}

func (e errorBuilder) str(s string) errorBuilder {
	e.out = append(e.out, s...)
	return e
}

// quote appends the first max bytes of b (up to a NUL), CR/LF blanked.
func (e errorBuilder) quote(b []byte, max int) errorBuilder {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	for _, c := range b {
		if c == '\r' || c == '\n' {
			c = ' '
		}
		e.out = append(e.out, c)
	}
	return e
}

func (e errorBuilder) done() []byte { return append(e.out, '\r', '\n') }

// appendArityError is Redis's reply to a wrong argument count; name is
// the lower-case command name, "config|get" for a subcommand.
func appendArityError(out []byte, name string) []byte {
	return newError(out, "ERR wrong number of arguments for '").str(name).str("' command").done()
}

// appendUnknownCommand is Redis 7's reply to an unknown command: the name
// and the first arguments, quoted, up to 128 bytes of them.
func appendUnknownCommand(out []byte, args [][]byte) []byte {
	e := newError(out, "ERR unknown command '").quote(args[0], 128).str("', with args beginning with: ")
	listed := 0
	for _, a := range args[1:] {
		if listed >= 128 {
			break
		}
		before := len(e.out)
		e = e.str("'").quote(a, 128-listed).str("' ")
		listed += len(e.out) - before
	}
	return e.done()
}

// appendUnknownSubcommand is Redis 7's reply to an unknown subcommand of
// a container command such as CONFIG (cmd in upper case).
func appendUnknownSubcommand(out []byte, sub []byte, cmd string) []byte {
	return newError(out, "ERR unknown subcommand '").quote(sub, 128).str("'. Try ").str(cmd).str(" HELP.").done()
}
