package main

import (
	"math"
	"strconv"
)

// cmdFunc runs a command whose argument count is already checked,
// appending its reply to out.
type cmdFunc func(s *server, cl *client, out []byte, args [][]byte) []byte

type command struct {
	name  string // lower case, as Redis names it in errors
	arity int    // Redis style: n exactly, or -n at least n (name included)
	fn    cmdFunc
}

// maxNameLen is the longest command name in the table.
const maxNameLen = 8

var commands map[string]*command

func init() { // in init: the table refers to functions that refer to it
	commands = make(map[string]*command)
	for _, c := range []*command{
		{"ping", -1, cmdPing}, {"echo", 2, cmdEcho}, {"quit", -1, cmdQuit},
		{"get", 2, cmdGet}, {"set", -3, cmdSet}, {"del", -2, cmdDel},
		{"exists", -2, cmdExists}, {"mget", -2, cmdMget}, {"mset", -3, cmdMset},
		{"incr", 2, cmdIncr}, {"decr", 2, cmdDecr}, {"incrby", 3, cmdIncrby},
		{"decrby", 3, cmdDecrby}, {"expire", -3, cmdExpire}, {"pexpire", -3, cmdPexpire},
		{"ttl", 2, cmdTTL}, {"pttl", 2, cmdPTTL}, {"dbsize", 1, cmdDbsize},
		{"flushall", -1, cmdFlush}, {"flushdb", -1, cmdFlush},
		{"command", -1, cmdCommand}, {"config", -2, cmdConfig}, {"hello", -1, cmdHello},
	} {
		commands[c.name] = c
	}
}

// lookup finds a command by name, ignoring case, without allocating.
func lookup(name []byte) *command {
	if len(name) > maxNameLen {
		return nil
	}
	var lower [maxNameLen]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return commands[string(lower[:len(name)])]
}

// exec runs one command (len(args) > 0) and appends its reply to out.
func (s *server) exec(cl *client, out []byte, args [][]byte) []byte {
	cmd := lookup(args[0])
	switch {
	case cmd == nil:
		return appendUnknownCommand(out, args)
	case cmd.arity > 0 && len(args) != cmd.arity, len(args) < -cmd.arity:
		return appendArityError(out, cmd.name)
	}
	return cmd.fn(s, cl, out, args)
}

func cmdGet(s *server, _ *client, out []byte, args [][]byte) []byte {
	var clk clock
	sh := s.db.shard(args[1])
	sh.mu.RLock()
	e, expired := sh.lookup(args[1], &clk)
	if e != nil {
		out = appendBulk(out, e.val)
	} else {
		out = appendNull(out)
	}
	sh.mu.RUnlock()
	if expired {
		sh.reap(args[1], &clk)
	}
	return out
}

// SET option flags, as Redis's parseExtendedStringArgumentsOrReply has them.
const (
	setNX = 1 << iota
	setXX
	setGet
	setKeepTTL
	setEX
	setPX
	setEXAT
	setPXAT
	setExpiry = setEX | setPX | setEXAT | setPXAT
)

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]
func cmdSet(s *server, _ *client, out []byte, args [][]byte) []byte {
	flags := 0
	var when []byte
	for j := 3; j < len(args); j++ {
		opt, more := args[j], j+1 < len(args)
		var f int
		switch {
		case eqFold(opt, "nx") && flags&setXX == 0:
			flags |= setNX
			continue
		case eqFold(opt, "xx") && flags&setNX == 0:
			flags |= setXX
			continue
		case eqFold(opt, "get"):
			flags |= setGet
			continue
		case eqFold(opt, "keepttl") && flags&setExpiry == 0:
			flags |= setKeepTTL
			continue
		case eqFold(opt, "ex"):
			f = setEX
		case eqFold(opt, "px"):
			f = setPX
		case eqFold(opt, "exat"):
			f = setEXAT
		case eqFold(opt, "pxat"):
			f = setPXAT
		}
		// An expiry option excludes KEEPTTL and the other expiry options
		// (but may repeat itself), and needs a value.
		if f == 0 || flags&(setKeepTTL|setExpiry&^f) != 0 || !more {
			return appendError(out, errSyntax)
		}
		flags |= f
		j++
		when = args[j]
	}

	var clk clock
	var exp int64
	if flags&setExpiry != 0 {
		ms, ok := parseInt(when)
		if !ok {
			return appendError(out, errNotInt)
		}
		seconds := flags&(setEX|setEXAT) != 0
		if ms <= 0 || seconds && ms > math.MaxInt64/1000 {
			return appendError(out, "ERR invalid expire time in 'set' command")
		}
		if seconds {
			ms *= 1000
		}
		if flags&(setEX|setPX) != 0 {
			if ms > math.MaxInt64-clk.now() {
				return appendError(out, "ERR invalid expire time in 'set' command")
			}
			ms += clk.now()
		}
		exp = ms
	}

	sh := s.db.shard(args[1])
	sh.mu.Lock()
	e := sh.getW(args[1], &clk)
	if flags&setGet != 0 {
		if e != nil {
			out = appendBulk(out, e.val)
		} else {
			out = appendNull(out)
		}
	}
	if flags&setNX != 0 && e != nil || flags&setXX != 0 && e == nil {
		sh.mu.Unlock()
		if flags&setGet != 0 {
			return out
		}
		return appendNull(out)
	}
	if flags&setKeepTTL != 0 && e != nil {
		exp = e.exp
	}
	sh.set(e, args[1], args[2], exp)
	sh.mu.Unlock()
	if flags&setGet != 0 {
		return out
	}
	return appendSimple(out, "OK")
}

// eqFold reports whether b equals the lower-case ASCII word, ignoring case.
func eqFold(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

func cmdDel(s *server, _ *client, out []byte, args [][]byte) []byte {
	keys := args[1:]
	set := keyShards(keys, 1)
	s.db.lock(&set, true)
	var clk clock
	n := 0
	for _, k := range keys {
		sh := s.db.shard(k)
		if e := sh.getW(k, &clk); e != nil {
			sh.remove(e)
			n++
		}
	}
	s.db.unlock(&set, true)
	return appendInt(out, int64(n))
}

func cmdExists(s *server, _ *client, out []byte, args [][]byte) []byte {
	keys := args[1:]
	set := keyShards(keys, 1)
	s.db.lock(&set, false)
	var clk clock
	n := 0
	for _, k := range keys {
		if s.db.shard(k).get(k, &clk) != nil {
			n++
		}
	}
	s.db.unlock(&set, false)
	return appendInt(out, int64(n))
}

func cmdMget(s *server, _ *client, out []byte, args [][]byte) []byte {
	keys := args[1:]
	set := keyShards(keys, 1)
	out = appendArray(out, len(keys))
	s.db.lock(&set, false)
	var clk clock
	for _, k := range keys {
		if e := s.db.shard(k).get(k, &clk); e != nil {
			out = appendBulk(out, e.val)
		} else {
			out = appendNull(out)
		}
	}
	s.db.unlock(&set, false)
	return out
}

func cmdMset(s *server, _ *client, out []byte, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return appendArityError(out, "mset")
	}
	pairs := args[1:]
	set := keyShards(pairs, 2)
	s.db.lock(&set, true)
	var clk clock
	for i := 0; i < len(pairs); i += 2 {
		sh := s.db.shard(pairs[i])
		sh.set(sh.getW(pairs[i], &clk), pairs[i], pairs[i+1], 0)
	}
	s.db.unlock(&set, true)
	return appendSimple(out, "OK")
}

func cmdIncr(s *server, _ *client, out []byte, args [][]byte) []byte {
	return incrBy(s, out, args[1], 1)
}

func cmdDecr(s *server, _ *client, out []byte, args [][]byte) []byte {
	return incrBy(s, out, args[1], -1)
}

func cmdIncrby(s *server, _ *client, out []byte, args [][]byte) []byte {
	by, ok := parseInt(args[2])
	if !ok {
		return appendError(out, errNotInt)
	}
	return incrBy(s, out, args[1], by)
}

func cmdDecrby(s *server, _ *client, out []byte, args [][]byte) []byte {
	by, ok := parseInt(args[2])
	if !ok {
		return appendError(out, errNotInt)
	}
	if by == math.MinInt64 {
		return appendError(out, "ERR decrement would overflow")
	}
	return incrBy(s, out, args[1], -by)
}

// incrBy adds by to the integer at key (0 if missing), keeping its expiry.
func incrBy(s *server, out, key []byte, by int64) []byte {
	var clk clock
	sh := s.db.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.getW(key, &clk)
	var v int64
	if e != nil {
		var ok bool
		if v, ok = parseInt(e.val); !ok {
			return appendError(out, errNotInt)
		}
	}
	if by < 0 && v < 0 && by < math.MinInt64-v || by > 0 && v > 0 && by > math.MaxInt64-v {
		return appendError(out, errOverflow)
	}
	v += by
	if e == nil {
		var num [20]byte
		sh.set(nil, key, strconv.AppendInt(num[:0], v, 10), 0)
	} else {
		e.val = strconv.AppendInt(e.val[:0], v, 10)
	}
	return appendInt(out, v)
}

func cmdDbsize(s *server, _ *client, out []byte, _ [][]byte) []byte {
	return appendInt(out, s.db.size())
}

// FLUSHALL and FLUSHDB [ASYNC|SYNC]: both always flush synchronously.
func cmdFlush(s *server, _ *client, out []byte, args [][]byte) []byte {
	if len(args) > 2 || len(args) == 2 && !eqFold(args[1], "sync") && !eqFold(args[1], "async") {
		return appendError(out, errSyntax)
	}
	s.db.flush()
	return appendSimple(out, "OK")
}
