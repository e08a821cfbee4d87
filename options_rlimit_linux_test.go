//go:build linux

package mill

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// The server of TestNewServerTooManyLoopsForTheDescriptorLimit runs in a
// child process, whose descriptor limit it lowers.
const loopsLimitEnv = "MILL_TEST_LOOPS_RLIMIT"

// TestHelperProcessLoopsRLIMIT is the child of
// TestNewServerTooManyLoopsForTheDescriptorLimit; run by hand it skips.
// Under a lowered RLIMIT_NOFILE it asks for 300 loops, which need more
// descriptors than that, and checks that NewServer fails without a panic
// and gives back every descriptor it took.
func TestHelperProcessLoopsRLIMIT(t *testing.T) {
	limit := lowerFDLimit(t, loopsLimitEnv, "TestNewServerTooManyLoopsForTheDescriptorLimit")
	fds := openFDs(t)
	s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithLoops(300), WithLogger(zap.NewNop()))
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatalf("NewServer made 300 loops with %d descriptors", limit)
	}
	fmt.Printf("NewServer: %v\n", err)
	if got := openFDs(t); got != fds {
		t.Fatalf("%d descriptors open after the failed NewServer, %d before", got, fds)
	}
}

// TestNewServerTooManyLoopsForTheDescriptorLimit: WithLoops(300) with
// too few descriptors for 300 loops fails NewServer with an error (it
// used to panic), leaking no descriptor.
func TestNewServerTooManyLoopsForTheDescriptorLimit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessLoopsRLIMIT$", "-test.count=1", "-test.v", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), loopsLimitEnv+"=128",
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "NewServer: mill: WithLoops(300)") {
		t.Fatalf("child did not report NewServer's error:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "NewServer: ") {
			t.Log(line)
		}
	}
}
