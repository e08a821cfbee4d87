package main

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRedisCLI drives the server with Debian's redis-cli (redis-tools),
// one invocation per command. The expected outputs are redis-cli's
// against a real Redis 7.0.15, which prints errors on stdout and exits 0.
func TestRedisCLI(t *testing.T) {
	cli := tool(t, "redis-cli")
	addr, _ := start(t, Config{})
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"flushall"}, "OK\n"},
		{[]string{"ping"}, "PONG\n"},
		{[]string{"ping", "hello"}, "hello\n"},
		{[]string{"echo", "hi there"}, "hi there\n"},
		{[]string{"set", "k", "v"}, "OK\n"},
		{[]string{"set", "k", "v", "nx"}, "\n"},
		{[]string{"set", "k", "w", "xx"}, "OK\n"},
		{[]string{"get", "k"}, "w\n"},
		{[]string{"get", "nokey"}, "\n"},
		{[]string{"set", "t", "v", "ex", "100"}, "OK\n"},
		{[]string{"ttl", "t"}, "100\n"},
		{[]string{"set", "p", "v", "px", "100000"}, "OK\n"},
		{[]string{"ttl", "p"}, "100\n"},
		{[]string{"ttl", "k"}, "-1\n"},
		{[]string{"ttl", "nokey"}, "-2\n"},
		{[]string{"expire", "k", "50"}, "1\n"},
		{[]string{"expire", "nokey", "5"}, "0\n"},
		{[]string{"ttl", "k"}, "50\n"},
		{[]string{"incr", "n"}, "1\n"},
		{[]string{"decr", "n"}, "0\n"},
		{[]string{"incrby", "n", "10"}, "10\n"},
		{[]string{"decrby", "n", "3"}, "7\n"},
		{[]string{"incr", "k"}, "ERR value is not an integer or out of range\n\n"},
		{[]string{"mset", "a", "1", "b", "2"}, "OK\n"},
		{[]string{"mget", "a", "b", "nokey"}, "1\n2\n\n"},
		{[]string{"exists", "a", "b", "nokey"}, "2\n"},
		{[]string{"del", "a", "b", "nokey"}, "2\n"},
		{[]string{"dbsize"}, "4\n"},
		{[]string{"config", "get", "save"}, "save\n\n"},
		{[]string{"config", "get", "appendonly"}, "appendonly\nno\n"},
		{[]string{"config", "get", "nothing"}, "\n"},
		{[]string{"foo", "bar"}, "ERR unknown command 'foo', with args beginning with: 'bar' \n\n"},
		{[]string{"set"}, "ERR wrong number of arguments for 'set' command\n\n"},
		{[]string{"flushall"}, "OK\n"},
		{[]string{"dbsize"}, "0\n"},
		{[]string{"quit"}, "OK\n"},
		// Where mill differs from Redis: no command docs, RESP2 only.
		{[]string{"command", "docs"}, "\n"},
		{[]string{"-3", "ping"}, "PONG\n"}, // redis-cli -3 tries HELLO 3, then carries on in RESP2
		{[]string{"hello", "3"}, "NOPROTO unsupported protocol version\n\n"},
		{[]string{"hello", "2", "setname", "cli"}, "server\nredis\nversion\n7.0.0\nproto\n2\nid\n#\nmode\nstandalone\nrole\nmaster\nmodules\n\n"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, cli, append([]string{"-p", port}, tc.args...)...).Output()
		cancel()
		got := string(out)
		if tc.args[0] == "hello" { // the connection id varies
			got = regexp.MustCompile(`\nid\n\d+\n`).ReplaceAllString(got, "\nid\n#\n")
		}
		if err != nil || got != tc.want {
			t.Errorf("redis-cli %q: got %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}

	// Without arguments redis-cli reads commands from standard input and
	// sends them all on one connection.
	c := exec.Command(cli, "-p", port)
	c.Stdin = strings.NewReader("set a 1\nincr a\nget a\nmget a nokey\nping\n")
	out, err := c.Output()
	if want := "OK\n2\n2\n2\n\nPONG\n"; err != nil || string(out) != want {
		t.Errorf("redis-cli with commands on stdin: got %q, %v; want %q", out, err, want)
	}
}

// TestRedisBenchmark runs Debian's redis-benchmark, pipelined, and checks
// that every test completes without an error and that every INCR
// counted.
func TestRedisBenchmark(t *testing.T) {
	bench := tool(t, "redis-benchmark")
	addr, _ := start(t, Config{})
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bench, "-p", port, "-t", "ping,set,get,incr,mset",
		"-P", "16", "-n", "20000", "-c", "20", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), "\r", "\n")
	for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"} {
		re := regexp.MustCompile(`(?m)^ ?` + regexp.QuoteMeta(test) + `: [0-9.]+ requests per second`)
		if !re.MatchString(text) {
			t.Errorf("no result line for %s in:\n%s", test, text)
		}
	}
	if strings.Contains(text, "ERR") || strings.Contains(strings.ToLower(text), "error") {
		t.Errorf("redis-benchmark reported errors:\n%s", text)
	}
	t.Logf("redis-benchmark:\n%s", regexp.MustCompile(`(?m)^.*rps=.*\n`).ReplaceAllString(text, ""))

	c := dial(t, addr)
	c.do("GET counter:__rand_int__\r\n", "$5\r\n20000\r\n")
	c.send("GET key:__rand_int__\r\n") // 3 random bytes
	if reply, err := readReply(c.r); err != nil || !strings.HasPrefix(string(reply), "$3\r\n") {
		t.Errorf("GET key:__rand_int__: %q, %v", reply, err)
	}
}
