package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// step is one request and the exact bytes Redis 7.0 replies with.
type step struct{ req, want string }

// scripts run in order on one connection each, after a FLUSHALL. Every
// expected reply was recorded from a real Redis 7.0.15; set
// MILL_REDIS_REFERENCE=host:port to check them against a real server.
var scripts = map[string][]step{
	"ping-echo": {
		{"PING\r\n", "+PONG\r\n"},
		{"ping hello\r\n", "$5\r\nhello\r\n"},
		{"PING a b\r\n", "-ERR wrong number of arguments for 'ping' command\r\n"},
		{"ECHO\r\n", "-ERR wrong number of arguments for 'echo' command\r\n"},
		{cmd("EcHo", "a\r\nb"), "$4\r\na\r\nb\r\n"},
		{"*1\r\n$4\r\nPING\r\n*0\r\n*-1\r\n\r\n\nPING\n", "+PONG\r\n+PONG\r\n"},
		{"  PING   x  \r\n", "$1\r\nx\r\n"},
		{`PING "a\x41\n"` + "\r\n", "$3\r\naA\n\r\n"},
		{"PING 'a b'\r\n", "$3\r\na b\r\n"},
	},
	"set-get": {
		{"SET k v\r\nGET k\r\nGET nokey\r\n", "+OK\r\n$1\r\nv\r\n$-1\r\n"},
		{"GET\r\n", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"SET k\r\n", "-ERR wrong number of arguments for 'set' command\r\n"},
		{"SET k v NX\r\n", "$-1\r\n"},
		{"SET k2 v XX\r\n", "$-1\r\n"},
		{"SET k w XX\r\nGET k\r\n", "+OK\r\n$1\r\nw\r\n"},
		{"SET k v NX XX\r\n", "-ERR syntax error\r\n"},
		{"SET k v EX 0\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v EX -1\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v EX abc\r\n", "-ERR value is not an integer or out of range\r\n"},
		{"SET k v EX 9223372036854775807\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v PX 9223372036854775807\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"SET k v FOO\r\n", "-ERR syntax error\r\n"},
		{"SET k v EX\r\n", "-ERR syntax error\r\n"},
		{"SET k v EX 10 PX 10\r\n", "-ERR syntax error\r\n"},
		{"SET k v KEEPTTL EX 5\r\n", "-ERR syntax error\r\n"},
		{"SET k v EX 10 EX 20\r\nTTL k\r\n", "+OK\r\n:20\r\n"},
		{"SET k w KEEPTTL\r\nTTL k\r\nSET k w\r\nTTL k\r\n", "+OK\r\n:20\r\n+OK\r\n:-1\r\n"},
		{"SET k x GET\r\nSET k y GET NX\r\nSET new z GET XX\r\nGET new\r\n", "$1\r\nw\r\n$1\r\nx\r\n$-1\r\n$-1\r\n"},
		{"SET k v EXAT 1\r\nGET k\r\n", "+OK\r\n$-1\r\n"},
		{"SET k v PXAT 99999999999999\r\nGET k\r\n", "+OK\r\n$1\r\nv\r\n"},
		{cmd("SET", "e", "") + "GET e\r\n", "+OK\r\n$0\r\n\r\n"},
	},
	"incr": {
		{"SET n 10\r\nINCR n\r\nDECR n\r\nINCRBY n -5\r\nDECRBY n 3\r\n", "+OK\r\n:11\r\n:10\r\n:5\r\n:2\r\n"},
		{"INCRBY n 05\r\nINCRBY n +5\r\nINCRBY n abc\r\n", strings.Repeat("-ERR value is not an integer or out of range\r\n", 3)},
		{"SET big 9223372036854775807\r\nINCR big\r\n", "+OK\r\n-ERR increment or decrement would overflow\r\n"},
		{"INCRBY low -9223372036854775808\r\nDECR low\r\n", ":-9223372036854775808\r\n-ERR increment or decrement would overflow\r\n"},
		{"DECRBY n -9223372036854775808\r\n", "-ERR decrement would overflow\r\n"},
		{"SET s abc\r\nINCR s\r\n", "+OK\r\n-ERR value is not an integer or out of range\r\n"},
		{`SET sp " 5"` + "\r\nINCR sp\r\nSET m -0\r\nINCR m\r\n",
			"+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n-ERR value is not an integer or out of range\r\n"},
		{"INCR fresh\r\nDECR fresh2\r\nINCR\r\n", ":1\r\n:-1\r\n-ERR wrong number of arguments for 'incr' command\r\n"},
		{"SET t 5\r\nEXPIRE t 100\r\nINCR t\r\nTTL t\r\nGET t\r\n", "+OK\r\n:1\r\n:6\r\n:100\r\n$1\r\n6\r\n"},
	},
	"multi-key": {
		{"MSET a 1 b 2\r\nMGET a b c\r\n", "+OK\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"},
		{"MSET a\r\nMSET a 1 b\r\n", strings.Repeat("-ERR wrong number of arguments for 'mset' command\r\n", 2)},
		{"EXISTS a a b c\r\nDBSIZE\r\nDEL a b c a\r\nEXISTS a\r\nDBSIZE\r\n", ":3\r\n:2\r\n:2\r\n:0\r\n:0\r\n"},
		{"MGET\r\nDEL\r\nEXISTS\r\nDBSIZE x\r\n", "-ERR wrong number of arguments for 'mget' command\r\n" +
			"-ERR wrong number of arguments for 'del' command\r\n-ERR wrong number of arguments for 'exists' command\r\n" +
			"-ERR wrong number of arguments for 'dbsize' command\r\n"},
		{"MSET x 1 y 2\r\nFLUSHALL\r\nDBSIZE\r\nFLUSHALL ASYNC\r\nFLUSHDB SYNC\r\n", "+OK\r\n+OK\r\n:0\r\n+OK\r\n+OK\r\n"},
		{"FLUSHALL FOO\r\nFLUSHALL a b\r\n", "-ERR syntax error\r\n-ERR syntax error\r\n"},
	},
	"expire": {
		{"SET a 1\r\nTTL a\r\nPTTL a\r\nTTL nokey\r\nPTTL nokey\r\n", "+OK\r\n:-1\r\n:-1\r\n:-2\r\n:-2\r\n"},
		{"EXPIRE a 100\r\nTTL a\r\nEXPIRE nokey 10\r\n", ":1\r\n:100\r\n:0\r\n"},
		{"EXPIRE a abc\r\nEXPIRE a 9223372036854775807\r\nPEXPIRE a 9223372036854775807\r\n",
			"-ERR value is not an integer or out of range\r\n-ERR invalid expire time in 'expire' command\r\n" +
				"-ERR invalid expire time in 'pexpire' command\r\n"},
		{"EXPIRE a 10 NX XX\r\nEXPIRE a 10 GT LT\r\nEXPIRE a 10 FOO\r\nEXPIRE nokey 10 FOO\r\n",
			"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n" +
				"-ERR GT and LT options at the same time are not compatible\r\n" +
				"-ERR Unsupported option FOO\r\n-ERR Unsupported option FOO\r\n"},
		{`EXPIRE a 10 "x\r\ny"` + "\r\n", "-ERR Unsupported option x  y\r\n"},
		{"EXPIRE a 50 NX\r\nEXPIRE a 40 GT\r\nEXPIRE a 60 LT\r\nEXPIRE a 30 lt\r\nTTL a\r\n", ":0\r\n:0\r\n:1\r\n:1\r\n:30\r\n"},
		{"EXPIRE a 200 gt\r\nTTL a\r\nSET b 1\r\nEXPIRE b 5 GT\r\nEXPIRE b 5 XX\r\nEXPIRE b 5 LT\r\nTTL b\r\n",
			":1\r\n:200\r\n+OK\r\n:0\r\n:0\r\n:1\r\n:5\r\n"},
		{"PEXPIRE b 10000\r\nTTL b\r\nEXPIRE b 0\r\nEXISTS b\r\nSET c 1\r\nEXPIRE c -5\r\nGET c\r\n", ":1\r\n:10\r\n:1\r\n:0\r\n+OK\r\n:1\r\n$-1\r\n"},
		{"EXPIRE a -9223372036854775808\r\nEXPIRE a\r\n", "-ERR invalid expire time in 'expire' command\r\n" +
			"-ERR wrong number of arguments for 'expire' command\r\n"},
	},
	"unknown": {
		{"FOO a b\r\n", "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"},
		{"foo\r\n", "-ERR unknown command 'foo', with args beginning with: \r\n"},
		{`foo "a b" "c\r\nd"` + "\r\n", "-ERR unknown command 'foo', with args beginning with: 'a b' 'c  d' \r\n"},
		{cmd("FOO", "a\x00b"), "-ERR unknown command 'FOO', with args beginning with: 'a' \r\n"},
		{cmd("", "x"), "-ERR unknown command '', with args beginning with: 'x' \r\n"},
		{cmd("x", strings.Repeat("a", 100), strings.Repeat("b", 100), "c"),
			"-ERR unknown command 'x', with args beginning with: '" + strings.Repeat("a", 100) + "' '" + strings.Repeat("b", 25) + "' \r\n"},
		{cmd(strings.Repeat("n", 200)), "-ERR unknown command '" + strings.Repeat("n", 128) + "', with args beginning with: \r\n"},
		{"PING\r\n", "+PONG\r\n"},
	},
	"probes": {
		{"COMMAND COUNT x\r\nCOMMAND FOO\r\ncommand info nosuch\r\n",
			"-ERR wrong number of arguments for 'command|count' command\r\n" +
				"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n*1\r\n$-1\r\n"},
		{"CONFIG\r\nCONFIG GET\r\nCONFIG FOO\r\n", "-ERR wrong number of arguments for 'config' command\r\n" +
			"-ERR wrong number of arguments for 'config|get' command\r\n-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"},
		{"CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET nothing\r\n",
			"*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n"},
		{"CONFIG GET SAVE\r\nCONFIG GET appendon*\r\nCONFIG GET sa?e save\r\nconfig get [s]ave Save\r\n",
			"*2\r\n$4\r\nSAVE\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n" +
				"*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n"},
		{"HELLO 4\r\nHELLO abc\r\nHELLO 2 FOO\r\nHELLO 1\r\nHELLO 2 SETNAME\r\n",
			"-NOPROTO unsupported protocol version\r\n-ERR Protocol version is not an integer or out of range\r\n" +
				"-ERR Syntax error in HELLO option 'FOO'\r\n-NOPROTO unsupported protocol version\r\n" +
				"-ERR Syntax error in HELLO option 'SETNAME'\r\n"},
		{"HELLO 2 AUTH a b\r\nHELLO 2 AUTH a b SETNAME \"x y\"\r\nHELLO 2 SETNAME \"a b\" AUTH a b\r\n",
			"-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
				"-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
				"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
	},
}

// Replies in which mill differs from Redis on purpose.
var millScripts = map[string][]step{
	"hello": {
		{"HELLO 3\r\n", "-NOPROTO unsupported protocol version\r\n"}, // RESP2 only
		{"COMMAND\r\nCOMMAND DOCS\r\nCOMMAND DOCS get\r\nCOMMAND COUNT\r\n", "*0\r\n*0\r\n*0\r\n:23\r\n"},
		{"CONFIG GET *\r\n", "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n"},
	},
}

func TestCommands(t *testing.T) {
	addr, _ := start(t, Config{})
	runScripts(t, addr, scripts)
	runScripts(t, addr, millScripts)

	// HELLO reports this connection's id.
	for _, req := range []string{"HELLO\r\n", "HELLO 2\r\n", "hello 2 AUTH default any SETNAME app\r\n"} {
		c := dial(t, addr)
		c.send("HELLO\r\n")
		reply, err := readReply(c.r)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.SplitN(string(reply), "$2\r\nid\r\n:", 2)[1]
		id = id[:strings.Index(id, "\r\n")]
		if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			t.Fatalf("%q: id %q", req, id)
		}
		want := "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n" +
			"$2\r\nid\r\n:" + id + "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
		if string(reply) != want {
			t.Fatalf("%q:\n got %q\nwant %q", req, reply, want)
		}
	}
}

// TestReference checks the expected replies against a real Redis.
func TestReference(t *testing.T) {
	addr := os.Getenv("MILL_REDIS_REFERENCE")
	if addr == "" {
		t.Skip("set MILL_REDIS_REFERENCE=host:port of a Redis 7.0 to compare with")
	}
	runScripts(t, addr, scripts)
}

func runScripts(t *testing.T, addr string, scripts map[string][]step) {
	for name, steps := range scripts {
		t.Run(name, func(t *testing.T) {
			c := dial(t, addr)
			c.do("FLUSHALL\r\n", "+OK\r\n")
			for _, s := range steps {
				c.do(s.req, s.want)
			}
			c.do("PING\r\n", "+PONG\r\n") // and nothing else was left unread
		})
	}
}

func TestQuit(t *testing.T) {
	addr, _ := start(t, Config{})
	for _, req := range []string{"QUIT\r\nPING\r\n", "PING\r\nquit now\r\n", cmd("QUIT")} {
		c := dial(t, addr)
		want := "+OK\r\n"
		if strings.HasPrefix(req, "PING") {
			want = "+PONG\r\n+OK\r\n"
		}
		c.do(req, want)
		c.expectEOF()
	}
}

// TestProtocolErrors checks that malformed input gets Redis's error reply
// (after the replies to the commands before it), then a closed connection.
func TestProtocolErrors(t *testing.T) {
	addr, _ := start(t, Config{})
	for req, want := range map[string]string{
		"*x\r\n":                          "-ERR Protocol error: invalid multibulk length\r\n",
		"PING\r\n*2\r\n+PING\r\n":         "+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
		"*1\r\n\n\r\n":                    "-ERR Protocol error: expected '$', got ' '\r\n", // kept on one line
		"*1\r\n\xe9\r\n":                  "-ERR Protocol error: expected '$', got '\xe9'\r\n",
		"*1\r\n$x\r\n":                    "-ERR Protocol error: invalid bulk length\r\n",
		"*1\r\n$-1\r\n":                   "-ERR Protocol error: invalid bulk length\r\n",
		"*1\r\n$600000000\r\n":            "-ERR Protocol error: invalid bulk length\r\n",
		"*3000000000\r\n":                 "-ERR Protocol error: invalid multibulk length\r\n",
		"PING \"a\r\n":                    "-ERR Protocol error: unbalanced quotes in request\r\n",
		"PING\r\nPING \"a\"b\r\nPING\r\n": "+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n",
		"*1\r\n$4\r\nPINGXX":              "-ERR Protocol error: expected CRLF after bulk string\r\n",
		strings.Repeat("x", 64<<10+2):     "-ERR Protocol error: too big inline request\r\n",
	} {
		c := dial(t, addr)
		c.do(req, want)
		c.expectEOF()
	}
}
