//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The clients of the idle test live in a child process (this test binary
// re-run with idleClientEnv set), so that server and clients each have
// their own descriptor limit.
const idleClientEnv = "MILL_TEST_IDLE_CLIENTS"

func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	h := &echoHandler{}
	// Every connection watches an idle timeout too, to show what that costs.
	s := serve(t, h, "", WithLoops(2), WithIdleTimeout(time.Hour))
	rssBefore := rss(t)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleClientEnv+"="+s.Addr().String()+","+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("client process: %q %v", line, err)
	}
	waitFor(t, "all connections", func() bool { return s.CountConnections() == n })
	time.Sleep(50 * time.Millisecond)
	if out := s.eng.pool.Outstanding(); out != 0 {
		t.Fatalf("%d idle connections hold %d pooled buffers, want 0", n, out)
	}
	if rssBefore > 0 {
		t.Logf("%d idle connections with idle timeouts: server RSS grew %d KiB (%d B/conn)", n,
			(rss(t)-rssBefore)>>10, (rss(t)-rssBefore)/int64(n))
	}
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	time.Sleep(500 * time.Millisecond)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	t.Logf("CPU while %d connections sat idle for 500ms: %v", n, cpu)
	stdin.Close()
	waitFor(t, "all closed", func() bool { return h.closes.Load() == int64(n) })
	if h.opens.Load() != int64(n) {
		t.Fatalf("opens %d", h.opens.Load())
	}
}

// runIdleClients is the child process: it opens the connections, sends
// one ping on each and reads the echo, says ready, and holds them until
// its standard input closes.
func runIdleClients() int {
	spec := strings.Split(os.Getenv(idleClientEnv), ",")
	n, _ := strconv.Atoi(spec[1])
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 4)
	for i := 0; i < n; i++ {
		var c net.Conn
		var err error
		for try := 0; try < 50; try++ {
			if c, err = net.DialTimeout("tcp", spec[0], 5*time.Second); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			return 1
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 1
		}
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			fmt.Fprintln(os.Stderr, "read:", err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// rss is this process's resident set size in bytes, or 0 if unknown.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
