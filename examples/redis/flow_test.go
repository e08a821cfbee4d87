package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// Pipelining against a client that reads slowly, and replies far larger
// than the commands: every reply must come back, in order, or the
// connection must close — never a gap, never a reply out of step.
// (Before flow control the server skipped 208,453 replies and answered
// the next PING with a GET's reply; an MGET with an 18 MiB reply got no
// reply at all.)

// slowReader reads from r, first after a pause of first, then sleeping
// every per bytes for every: a client that reads more slowly than the
// server answers.
type slowReader struct {
	r            io.Reader
	first, every time.Duration
	per, since   int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.first > 0 {
		time.Sleep(s.first)
		s.first = 0
	}
	if s.since >= s.per {
		time.Sleep(s.every)
		s.since = 0
	}
	n, err := s.r.Read(p[:min(len(p), s.per-s.since)])
	s.since += n
	return n, err
}

// flowServer is the command's server with small socket send buffers, so
// that its output backs up into mill's queue (and not only the kernel's)
// after a few megabytes of replies.
func flowServer(t *testing.T) (*mill.Server, *server) {
	return startServer(t, Config{}, mill.WithSocketSendBuffer(64<<10))
}

// slowConn dials s with a small receive window and returns the
// connection and a reply reader that reads slowly.
func slowConn(t *testing.T, s *mill.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(120 * time.Second))
	if err := c.(*net.TCPConn).SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReaderSize(&slowReader{r: c, first: 300 * time.Millisecond, every: time.Millisecond, per: 256 << 10}, 64<<10)
}

// checkHeld wants the server to have stopped running a connection's
// commands while its output was backed up, and closed nobody.
func checkHeld(t *testing.T, s *mill.Server, h *server) {
	t.Helper()
	tot := s.Stats().Total
	if tot.FlowPauses == 0 || h.held.Load() == 0 {
		t.Errorf("flow control paused the connection %d times, serve held commands back %d times: the reader was not slow enough to test it",
			tot.FlowPauses, h.held.Load())
	}
	if tot.Closed.Total() != 0 {
		t.Errorf("connections closed: %+v", tot.Closed)
	}
	t.Logf("flow-control pauses: %d; commands held back %d times", tot.FlowPauses, h.held.Load())
}

// TestPipelinedSlowReader pipelines 200,000 commands (20,000 under
// -race or -short) from a writer that never waits, in turn an ECHO of
// the command's number, an INCR of a counter (replies 1, 2, 3...) and a
// GET of a 4 KiB value (a reply 200 times its command), while a slow
// reader checks every reply in order; then a PING.
func TestPipelinedSlowReader(t *testing.T) {
	n := 200_000
	if raceEnabled || testing.Short() {
		n = 20_000
	}
	s, h := flowServer(t)
	c, r := slowConn(t, s)
	big := strings.Repeat("v", 4096)
	setup := dial(t, s.Addr().String())
	setup.do(cmd("SET", "big", big), "+OK\r\n")

	var reqs []byte
	for i := range n {
		switch i % 3 {
		case 0:
			reqs = append(reqs, cmd("ECHO", fmt.Sprintf("%09d", i))...)
		case 1:
			reqs = append(reqs, cmd("INCR", "seq")...)
		case 2:
			reqs = append(reqs, cmd("GET", "big")...)
		}
	}
	reqs = append(reqs, cmd("PING")...)
	werr := make(chan error, 1)
	go func() {
		for b := reqs; len(b) > 0; {
			k, err := c.Write(b[:min(16<<10, len(b))])
			if err != nil {
				werr <- err
				return
			}
			b = b[k:]
		}
		werr <- nil
	}()
	bigReply := "$4096\r\n" + big + "\r\n"
	for i := range n {
		got, err := readReply(r)
		if err != nil {
			t.Fatalf("reply %d of %d: %v (the server closed or the stream broke)", i, n, err)
		}
		var want string
		switch i % 3 {
		case 0:
			want = "$9\r\n" + fmt.Sprintf("%09d", i) + "\r\n"
		case 1:
			want = ":" + strconv.Itoa(i/3+1) + "\r\n"
		case 2:
			want = bigReply
		}
		if string(got) != want {
			t.Fatalf("reply %d of %d: %.40q, want %.40q: out of step", i, n, got, want)
		}
	}
	if got, err := readReply(r); string(got) != "+PONG\r\n" {
		t.Fatalf("the PING after them: %q, %v", got, err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	checkHeld(t, s, h)
}

// TestBigMGETSlowReader: an MGET whose reply is 18 MiB (more than mill's
// default outbound limit of 16 MiB), pipelined between PINGs and read
// slowly, comes back whole and in step.
func TestBigMGETSlowReader(t *testing.T) {
	s, _ := flowServer(t)
	setup := dial(t, s.Addr().String())
	const keys, size = 18, 1 << 20
	args := []string{"MGET"}
	var want bytes.Buffer
	want.WriteString("+PONG\r\n*" + strconv.Itoa(keys) + "\r\n")
	for k := range keys {
		v := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(k)}).Read(v)
		key := "k" + strconv.Itoa(k)
		setup.do(cmd("SET", key, string(v)), "+OK\r\n")
		args = append(args, key)
		want.WriteString("$" + strconv.Itoa(size) + "\r\n")
		want.Write(v)
		want.WriteString("\r\n")
	}
	want.WriteString("+PONG\r\n")
	c, r := slowConn(t, s)
	if _, err := c.Write([]byte(cmd("PING") + cmd(args...) + cmd("PING"))); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("PING, MGET of %d MiB, PING: %d bytes back (%v), equal %v", keys*size>>20, len(got), err, bytes.Equal(got, want.Bytes()))
	}
	if tot := s.Stats().Total; tot.Closed.SlowConsumer != 0 {
		t.Fatalf("closed as a slow consumer: %+v", tot.Closed)
	}
}

// TestLargeValues: a SET of 4.1 MiB (more than mill's default inbound
// limit of 4 MiB; redis-server takes up to 512 MB) gets +OK and its GET
// the value; so do 20 MiB (more than mill's default outbound limit)
// except under -race or -short.
func TestLargeValues(t *testing.T) {
	addr, _ := start(t, Config{})
	c := dial(t, addr)
	sizes := []int{41 << 20 / 10, 20 << 20}
	if raceEnabled || testing.Short() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		v := make([]byte, size)
		rand.NewChaCha8([32]byte{3}).Read(v)
		c.c.SetDeadline(time.Now().Add(30 * time.Second))
		sent := make(chan error, 1)
		go func() { _, err := io.WriteString(c.c, cmd("SET", "big", string(v))); sent <- err }()
		c.expect("SET", "+OK\r\n")
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		c.send(cmd("GET", "big"))
		c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := readReply(c.r)
		if err != nil || !bytes.Equal(got, []byte("$"+strconv.Itoa(size)+"\r\n"+string(v)+"\r\n")) {
			t.Fatalf("GET of %d bytes: %d bytes back, %v", size, len(got), err)
		}
	}
}

// keepSending writes junk on c until stop is closed or a write fails,
// as a client whose upload never ends; done is closed when it returns.
func keepSending(c net.Conn, stop <-chan struct{}) (done <-chan struct{}) {
	d := make(chan struct{})
	go func() {
		defer close(d)
		junk := bytes.Repeat([]byte("x"), 16<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	return d
}

// TestOverLimitWhileSending: a command over a limit, from a client that
// goes on sending (a SET of more than -max-bulk, a command of more than
// -max-command, here 1 MiB: Redis's replies), and every other protocol
// error, get their error reply in full, then the connection ends (EOF,
// or a reset once the server's lingering close has given up on the
// client). The close lingers: the reply and a FIN go out, and the
// client's input is read and dropped meanwhile.
func TestOverLimitWhileSending(t *testing.T) {
	addr, _ := start(t, Config{Limits: Limits{MaxCommand: 1 << 20}}, mill.WithLingerTimeout(time.Second))
	cases := map[string]string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(DefaultMaxBulk+1) + "\r\n": "-ERR Protocol error: invalid bulk length\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n":                                "-ERR Protocol error: command too big\r\n",
		"*x\r\n":                      "-ERR Protocol error: invalid multibulk length\r\n",
		"*1\r\n$x\r\n":                "-ERR Protocol error: invalid bulk length\r\n",
		"PING \"a\r\n":                "-ERR Protocol error: unbalanced quotes in request\r\n",
		strings.Repeat("x", 64<<10+2): "-ERR Protocol error: too big inline request\r\n",
	}
	for req, want := range cases {
		t.Run(want[:min(len(want)-2, 60)], func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr)
			c.send(req)
			stop := make(chan struct{})
			done := keepSending(c.c, stop)
			defer func() { close(stop); c.c.Close(); <-done }()
			c.expect(req[:min(len(req), 40)], want)
			c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			rest, err := io.ReadAll(c.r)
			if len(rest) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after the error: %q, %v; want EOF or a reset", rest, err)
			}
		})
	}
}

// TestRepliesAfterFIN: commands followed by the client's FIN (a script
// piped into nc -N) all get their replies, then the server closes.
func TestRepliesAfterFIN(t *testing.T) {
	addr, _ := start(t, Config{})
	c := dial(t, addr)
	c.send(cmd("SET", "fin", "1") + cmd("INCR", "fin") + "GET fin\r\n")
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expect("SET INCR GET", "+OK\r\n:2\r\n$1\r\n2\r\n")
	c.expectEOF()
}

// TestConfigLimits checks the arithmetic: the inbound limit holds the
// largest command and two reads more.
func TestConfigLimits(t *testing.T) {
	for _, cfg := range []Config{{}, {Limits: Limits{MaxCommand: 1 << 20, MaxInline: 4 << 20}}, {MaxOutput: 8 << 20}} {
		lim := cfg.Limits.withDefaults()
		if in := cfg.InboundLimit(); in < max(lim.MaxCommand, lim.MaxInline+2)+mill.DefaultReadBufferCap {
			t.Errorf("%+v: inbound limit %d", cfg, in)
		}
		if out := cfg.OutboundLimit(); cfg.MaxOutput > 0 && out != cfg.MaxOutput || cfg.MaxOutput == 0 && out != DefaultMaxOutput {
			t.Errorf("%+v: outbound limit %d", cfg, out)
		}
	}
}

// TestNonReaderBounded: a client pipelines GETs of a 64 KiB value (a
// reply 3,000 times its command: one read of commands asks for 180 MiB
// of replies) and reads nothing until the server has stopped: the
// server's queued output stays near the high watermark, because it stops
// running commands once the output passes it. Then the client reads
// every reply, in order.
func TestNonReaderBounded(t *testing.T) {
	n := 3000
	if raceEnabled || testing.Short() {
		n = 1000
	}
	s, h := flowServer(t)
	value := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{4}).Read(value)
	setup := dial(t, s.Addr().String())
	setup.do(cmd("SET", "v", string(value)), "+OK\r\n")

	c := dial(t, s.Addr().String())
	c.c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan error, 1)
	go func() { _, err := io.WriteString(c.c, strings.Repeat(cmd("GET", "v"), n)); sent <- err }()
	deadline := time.Now().Add(10 * time.Second)
	var st mill.LoopStats
	for {
		time.Sleep(50 * time.Millisecond) // a sampling period, not an ordering
		prev := st
		st = s.Stats().Total
		if st.FlowPauses > 0 && st.BytesIn == prev.BytesIn && st.BytesOut == prev.BytesOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no steady state: %+v", st)
		}
	}
	bound := int64(mill.DefaultHighWatermark + flushAt + len(value) + 64)
	t.Logf("queued while the client does not read: %d bytes (bound %d); commands held back %d times", st.OutboundPending, bound, h.held.Load())
	if st.OutboundPending > bound {
		t.Errorf("%d bytes of replies queued for a client that does not read: more than the high watermark, a batch and a reply", st.OutboundPending)
	}
	want := []byte("$" + strconv.Itoa(len(value)) + "\r\n" + string(value) + "\r\n")
	c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for i := range n {
		got, err := readReply(c.r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("reply %d of %d: %d bytes, %v", i, n, len(got), err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
