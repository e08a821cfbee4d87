package main

import "math"

func cmdExpire(s *server, _ *client, out []byte, args [][]byte) []byte {
	return expire(s, out, args, 1000, "ERR invalid expire time in 'expire' command")
}

func cmdPexpire(s *server, _ *client, out []byte, args [][]byte) []byte {
	return expire(s, out, args, 1, "ERR invalid expire time in 'pexpire' command")
}

// EXPIRE options, as Redis 7 has them.
const (
	expNX = 1 << iota
	expXX
	expGT
	expLT
)

// expire runs EXPIRE/PEXPIRE key time [NX|XX|GT|LT]; unit is the
// milliseconds in one unit of time.
func expire(s *server, out []byte, args [][]byte, unit int64, invalid string) []byte {
	flags := 0
	for _, opt := range args[3:] {
		switch {
		case eqFold(opt, "nx"):
			flags |= expNX
		case eqFold(opt, "xx"):
			flags |= expXX
		case eqFold(opt, "gt"):
			flags |= expGT
		case eqFold(opt, "lt"):
			flags |= expLT
		default:
			return newError(out, "ERR Unsupported option ").quote(opt, len(opt)).done()
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		return appendError(out, "ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		return appendError(out, "ERR GT and LT options at the same time are not compatible")
	}
	when, ok := parseInt(args[2])
	if !ok {
		return appendError(out, errNotInt)
	}
	if when > math.MaxInt64/unit || when < math.MinInt64/unit {
		return appendError(out, invalid)
	}
	when *= unit
	var clk clock
	now := clk.now()
	if when > math.MaxInt64-now {
		return appendError(out, invalid)
	}
	when += now

	sh := s.db.shard(args[1])
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.getW(args[1], &clk)
	if e == nil {
		return appendInt(out, 0)
	}
	cur := e.exp // 0: no expiry, an infinite TTL for GT and LT
	if flags&expNX != 0 && cur != 0 || flags&expXX != 0 && cur == 0 ||
		flags&expGT != 0 && (cur == 0 || when <= cur) || flags&expLT != 0 && cur != 0 && when >= cur {
		return appendInt(out, 0)
	}
	if when <= now {
		sh.remove(e)
	} else {
		sh.expire(e, when)
	}
	return appendInt(out, 1)
}

func cmdTTL(s *server, _ *client, out []byte, args [][]byte) []byte {
	return ttl(s, out, args[1], false)
}

func cmdPTTL(s *server, _ *client, out []byte, args [][]byte) []byte {
	return ttl(s, out, args[1], true)
}

// ttl replies -2 for a missing key, -1 for one without expiry, else the
// time left, in seconds rounded to nearest like Redis, or milliseconds.
func ttl(s *server, out, key []byte, ms bool) []byte {
	var clk clock
	sh := s.db.shard(key)
	sh.mu.RLock()
	e, expired := sh.lookup(key, &clk)
	var exp int64
	if e != nil {
		exp = e.exp
	}
	sh.mu.RUnlock()
	if expired {
		sh.reap(key, &clk)
	}
	switch {
	case e == nil:
		return appendInt(out, -2)
	case exp == 0:
		return appendInt(out, -1)
	}
	left := max(exp-clk.now(), 0)
	if !ms {
		left = (left + 500) / 1000
	}
	return appendInt(out, left)
}
