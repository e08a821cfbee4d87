package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentClients runs many clients at once over TCP, each
// pipelining batches of commands on its own and on shared keys. INCR
// totals must be exact, and MSET/MGET must be atomic: a client never
// sees x and y differ, though every client writes both.
func TestConcurrentClients(t *testing.T) {
	addr, h := start(t, Config{})
	const clients, rounds = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- client1(addr, i, rounds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c := dial(t, addr)
	c.do("GET shared\r\n", fmt.Sprintf("$4\r\n%d\r\n", clients*rounds))
	for i := range clients {
		c.do(fmt.Sprintf("GET own:%d\r\n", i), fmt.Sprintf("$3\r\n%d\r\n", rounds))
	}
	// shared, x, y, own:i, and a key per round per client.
	c.do("DBSIZE\r\n", fmt.Sprintf(":%d\r\n", 3+clients+clients*rounds))
	if n := h.db.size(); n != 3+clients+clients*rounds {
		t.Errorf("store size %d", n)
	}
}

func client1(addr string, id, rounds int) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	for j := range rounds {
		v := strconv.Itoa(id*100000 + j)
		batch := "INCR shared\r\n" + cmd("INCR", fmt.Sprintf("own:%d", id)) +
			cmd("SET", fmt.Sprintf("k:%d:%d", id, j), v) + cmd("GET", fmt.Sprintf("k:%d:%d", id, j)) +
			cmd("MSET", "x", v, "y", v) + "MGET x y\r\n"
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write([]byte(batch)); err != nil {
			return err
		}
		var replies [6]string
		for k := range replies {
			b, err := readReply(r)
			if err != nil {
				return fmt.Errorf("client %d round %d: %v", id, j, err)
			}
			replies[k] = string(b)
		}
		if replies[0][0] != ':' || replies[1] != fmt.Sprintf(":%d\r\n", j+1) || replies[2] != "+OK\r\n" ||
			replies[3] != string(appendBulkString(nil, v)) || replies[4] != "+OK\r\n" {
			return fmt.Errorf("client %d round %d: replies %q", id, j, replies)
		}
		// *2 $n x $n y: x and y come from the same MSET.
		if f := strings.Split(replies[5], "\r\n"); len(f) != 6 || f[0] != "*2" || f[2] != f[4] {
			return fmt.Errorf("client %d round %d: MGET x y = %q after MSETs of equal values", id, j, replies[5])
		}
	}
	return nil
}

func TestExpiry(t *testing.T) {
	addr, _ := start(t, Config{SweepInterval: time.Hour}) // expiry on access only
	c := dial(t, addr)
	// Pipelined, so the GET runs microseconds after the SET.
	c.do("SET k v PX 50\r\nGET k\r\nPTTL k\r\n", "+OK\r\n$1\r\nv\r\n")
	if r, _ := readReply(c.r); len(r) < 4 || r[0] != ':' || r[1] == '-' || r[1] == '0' {
		t.Errorf("PTTL right after PX 50: %q", r)
	}
	waitFor(t, 2*time.Second, func() bool {
		c.send("GET k\r\n")
		r, _ := readReply(c.r)
		return string(r) == "$-1\r\n"
	})
	c.do("TTL k\r\nDBSIZE\r\n", ":-2\r\n:0\r\n") // the GET removed it

	c.do("SET k v EX 100\r\nTTL k\r\n", "+OK\r\n:100\r\n")
	c.send("PTTL k\r\n")
	r, _ := readReply(c.r)
	if ms, err := strconv.Atoi(string(r[1 : len(r)-2])); err != nil || ms <= 99000 || ms > 100000 {
		t.Errorf("PTTL after EX 100: %q", r)
	}
	c.do("PEXPIRE k 30\r\n", ":1\r\n")
	time.Sleep(60 * time.Millisecond)
	c.do("EXISTS k\r\nDBSIZE\r\nINCR k\r\n", ":0\r\n:1\r\n:1\r\n") // INCR found it expired: a new key
	c.do("TTL k\r\n", ":-1\r\n")
}

// TestSweeper checks that expired keys nobody reads go away by
// themselves: DBSIZE counts expired keys not yet removed, as in Redis.
func TestSweeper(t *testing.T) {
	addr, _ := start(t, Config{SweepInterval: 10 * time.Millisecond})
	c := dial(t, addr)
	batch := ""
	for i := range 300 {
		batch += cmd("SET", fmt.Sprintf("temp:%d", i), "v", "PX", "200")
	}
	for i := range 10 {
		batch += cmd("SET", fmt.Sprintf("keep:%d", i), "v")
	}
	c.send(batch + "DBSIZE\r\n")
	for range 310 {
		if r, err := readReply(c.r); err != nil || string(r) != "+OK\r\n" {
			t.Fatalf("SET: %q, %v", r, err)
		}
	}
	c.expect("DBSIZE", ":310\r\n")
	waitFor(t, 3*time.Second, func() bool {
		c.send("DBSIZE\r\n")
		r, _ := readReply(c.r)
		return string(r) == ":10\r\n"
	})
}

// TestSweepBounded checks that one sweep does bounded work and that
// repeated sweeps remove every expired key and nothing else.
func TestSweepBounded(t *testing.T) {
	db := newStore()
	now := time.Now().UnixMilli()
	for i := range 5000 {
		k := []byte("k" + strconv.Itoa(i))
		sh := db.shard(k)
		sh.set(nil, k, []byte("v"), now-1)
	}
	for i := range 100 {
		k := []byte("live" + strconv.Itoa(i))
		sh := db.shard(k)
		exp := int64(0)
		if i%2 == 0 {
			exp = now + 3600_000
		}
		sh.set(nil, k, []byte("v"), exp)
	}
	if got := db.sweep(now, 2, 1); got == 0 || got > numShards*2 {
		t.Fatalf("one sweep of 2 samples per shard removed %d keys", got)
	}
	for range 1000 {
		if db.sweep(now, 2, 1) == 0 && db.size() == 100 {
			break
		}
	}
	if n := db.size(); n != 100 {
		t.Fatalf("after sweeping: %d keys, want 100", n)
	}
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
