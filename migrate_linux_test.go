//go:build linux

package mill

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// migrateChildEnv makes the test binary run the reuse-port scenario of
// runMigrateChild, inside the network namespace the test made for it.
const migrateChildEnv = "MILL_TEST_MIGRATE_REQ"

// TestReusePortMigrateReq shows what happens to the connections queued
// on an SO_REUSEPORT socket when the server holding it goes away while
// another serves the same port (a rolling restart without handing the
// sockets on), with net.ipv4.tcp_migrate_req off and on. It runs in a
// network namespace of its own (unshare -n), so the host's setting is
// untouched: off, the queued connections are reset; on, the kernel moves
// them to the other server's socket and every one is answered. A
// reuse-port server warns at start-up while it is off.
func TestReusePortMigrateReq(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not found (util-linux)")
	}
	if os.Geteuid() != 0 {
		t.Skip("a network namespace needs root")
	}
	if _, err := os.Stat(migrateReqPath); err != nil {
		t.Skip("this kernel has no tcp_migrate_req (Linux 5.14 and later)")
	}
	for _, mode := range []string{"0", "1"} {
		cmd := exec.Command(unshare, "-n", os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), migrateChildEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "unshare failed") || strings.Contains(string(out), "Operation not permitted") {
				t.Skipf("cannot make a network namespace here: %s", out)
			}
			t.Fatalf("tcp_migrate_req=%s: %v\n%s", mode, err, out)
		}
		report := strings.TrimSpace(string(out))
		t.Logf("tcp_migrate_req=%s: %s", mode, report)
		var queued, answered, reset int
		var warned bool
		if _, err := fmt.Sscanf(report, "queued=%d answered=%d reset=%d warned=%t", &queued, &answered, &reset, &warned); err != nil {
			t.Fatalf("report %q: %v", report, err)
		}
		switch {
		case queued == 0:
			t.Fatalf("tcp_migrate_req=%s: no connection queued on the socket that closed: nothing shown", mode)
		case mode == "0" && (reset == 0 || !warned):
			t.Errorf("off: %d of %d queued connections reset, warned %v; want resets and the warning", reset, queued, warned)
		case mode == "1" && (reset != 0 || warned):
			t.Errorf("on: %d of %d queued connections reset, warned %v; want all moved and answered, no warning", reset, queued, warned)
		}
	}
}

// runMigrateChild, in a fresh network namespace: brings loopback up,
// sets tcp_migrate_req, and runs two servers on one port with
// SO_REUSEPORT, one of which never accepts; 64 clients connect (the
// kernel spreads them over both sockets), then the idle server goes
// away, and the report says how many of the connections queued on it
// were answered by the other and how many were reset.
func runMigrateChild() int {
	mode := os.Getenv(migrateChildEnv)
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("ip link set lo up: %v: %s", err, out))
	}
	if err := os.WriteFile(migrateReqPath, []byte(mode), 0); err != nil {
		return fail(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	serving, err := NewServer(answer([]byte("yes")), "tcp://127.0.0.1:0", WithReusePort(true), WithLoops(2), WithLogger(zap.New(core)))
	if err != nil {
		return fail(err)
	}
	go serving.Serve()
	defer serving.Shutdown(context.Background())
	<-serving.Ready()
	addr := serving.Addr().String()
	idle, err := NewServer(answer([]byte("nop")), "tcp://"+addr, WithReusePort(true), WithLoops(2), WithLogger(zap.NewNop()))
	if err != nil {
		return fail(err)
	}
	// Never served: what the kernel queues on its socket waits there.
	type result struct {
		reply string
		err   error
	}
	results := make([]result, 64)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].reply, results[i].err = askOnce(addr)
		}()
	}
	// Wait until the answered ones are in: the rest wait on the idle
	// server's socket.
	deadline := time.Now().Add(10 * time.Second)
	for serving.Stats().Total.Accepted+idleQueued(idle) < uint64(len(results)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	queued := len(results) - int(serving.Stats().Total.Accepted)
	idle.Shutdown(context.Background()) // the process that goes away
	wg.Wait()
	var answered, reset int
	for _, r := range results {
		switch {
		case r.err != nil:
			reset++
		case r.reply == "yes":
			answered++
		}
	}
	warned := false
	for _, e := range logs.All() {
		warned = warned || strings.Contains(e.Message, "tcp_migrate_req=0")
	}
	fmt.Printf("queued=%d answered=%d reset=%d warned=%t\n", queued, answered, reset, warned)
	return 0
}

// idleQueued is how many connections wait in the accept queue of a
// server that never serves: its socket's backlog, as the kernel reports
// it (ss's Recv-Q for a listener).
func idleQueued(s *Server) uint64 {
	out, err := exec.Command("ss", "-ltnH", "sport", "= :"+portOf(s)).Output()
	if err != nil {
		return 0
	}
	var total uint64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var state string
		var recvQ uint64
		fmt.Sscan(line, &state, &recvQ)
		total += recvQ
	}
	return total
}

func portOf(s *Server) string {
	a := s.Addr().String()
	return a[strings.LastIndex(a, ":")+1:]
}

// osChild runs the child modes of this system's tests, if the
// environment asks for one.
func osChild() (int, bool) {
	if os.Getenv(migrateChildEnv) != "" {
		return runMigrateChild(), true
	}
	return 0, false
}
