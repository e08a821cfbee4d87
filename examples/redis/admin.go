package main

import (
	"bytes"
	"path"
)

// What HELLO reports. The version is the Redis release whose replies
// this server reproduces, for clients that check it.
const (
	serverName    = "redis"
	serverVersion = "7.0.0"
)

// PING [message]
func cmdPing(_ *server, _ *client, out []byte, args [][]byte) []byte {
	switch len(args) {
	case 1:
		return appendSimple(out, "PONG")
	case 2:
		return appendBulk(out, args[1])
	}
	return appendArityError(out, "ping")
}

// ECHO message
func cmdEcho(_ *server, _ *client, out []byte, args [][]byte) []byte {
	return appendBulk(out, args[1])
}

// QUIT: +OK, then the connection closes (Redis 7 ignores arguments).
func cmdQuit(_ *server, cl *client, out []byte, _ [][]byte) []byte {
	cl.quit = true
	return appendSimple(out, "OK")
}

// COMMAND [COUNT | DOCS [name...] | INFO [name...]]: enough for clients
// that probe it. There are no docs or command details to give: COMMAND
// and DOCS reply with an empty array, INFO with a null per name.
func cmdCommand(_ *server, _ *client, out []byte, args [][]byte) []byte {
	if len(args) == 1 {
		return appendArray(out, 0)
	}
	sub := args[1]
	switch {
	case eqFold(sub, "count"):
		if len(args) != 2 {
			return appendArityError(out, "command|count")
		}
		return appendInt(out, int64(len(commands)))
	case eqFold(sub, "docs"):
		return appendArray(out, 0)
	case eqFold(sub, "info"):
		out = appendArray(out, len(args)-2)
		for range args[2:] {
			out = appendNull(out)
		}
		return out
	}
	return appendUnknownSubcommand(out, sub, "COMMAND")
}

// configTable is what CONFIG GET knows: enough for redis-benchmark and
// other clients that ask about persistence.
var configTable = [...]struct{ name, value string }{
	{"appendonly", "no"},
	{"save", ""},
}

// CONFIG GET pattern...: the matching parameters as a flat array of name,
// value pairs. As in Redis, a pattern without glob characters matches
// one name ignoring case and the reply names it as asked; a glob pattern
// matches ignoring case and the reply uses the canonical name.
func cmdConfig(_ *server, _ *client, out []byte, args [][]byte) []byte {
	if !eqFold(args[1], "get") {
		return appendUnknownSubcommand(out, args[1], "CONFIG")
	}
	if len(args) < 3 {
		return appendArityError(out, "config|get")
	}
	var names [len(configTable)][]byte // nil: not matched
	for _, pat := range args[2:] {
		glob := bytes.ContainsAny(pat, "[*?")
		lower := ""
		if glob {
			lower = string(bytes.Map(asciiLower, pat))
		}
		for i, c := range configTable {
			switch {
			case names[i] != nil:
			case !glob:
				if eqFold(pat, c.name) {
					names[i] = pat
				}
			default:
				if ok, _ := path.Match(lower, c.name); ok {
					names[i] = []byte(c.name)
				}
			}
		}
	}
	n := 0
	for _, name := range names {
		if name != nil {
			n++
		}
	}
	out = appendArray(out, 2*n)
	for i, name := range names {
		if name != nil {
			out = appendBulk(out, name)
			out = appendBulkString(out, configTable[i].value)
		}
	}
	return out
}

func asciiLower(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]: RESP2
// only, so "HELLO 3" is refused and clients fall back to RESP2. The only
// user is "default", without a password (any password will do), as in a
// Redis without ACLs. The reply is the server-info map as a flat array.
func cmdHello(_ *server, cl *client, out []byte, args [][]byte) []byte {
	next := 1
	if len(args) >= 2 {
		ver, ok := parseInt(args[1])
		if !ok {
			return appendError(out, "ERR Protocol version is not an integer or out of range")
		}
		if ver != 2 {
			return appendError(out, errNoProto)
		}
		next = 2
	}
	// Options take effect in order, as in Redis: a bad password stops a
	// later SETNAME, a bad name a later AUTH.
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case eqFold(args[j], "auth") && more >= 2:
			if string(args[j+1]) != "default" {
				return appendError(out, errWrongPass)
			}
			j += 2
		case eqFold(args[j], "setname") && more >= 1:
			for _, c := range args[j+1] {
				if c < '!' || c > '~' {
					return appendError(out, "ERR Client names cannot contain spaces, newlines or special characters.")
				}
			}
			j++
		default:
			return newError(out, "ERR Syntax error in HELLO option '").quote(args[j], len(args[j])).str("'").done()
		}
	}
	out = appendArray(out, 14)
	out = appendBulkString(out, "server")
	out = appendBulkString(out, serverName)
	out = appendBulkString(out, "version")
	out = appendBulkString(out, serverVersion)
	out = appendBulkString(out, "proto")
	out = appendInt(out, 2)
	out = appendBulkString(out, "id")
	out = appendInt(out, cl.id)
	out = appendBulkString(out, "mode")
	out = appendBulkString(out, "standalone")
	out = appendBulkString(out, "role")
	out = appendBulkString(out, "master")
	out = appendBulkString(out, "modules")
	return appendArray(out, 0)
}
