//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestGoroutineID checks the id against the runtime's own stack header,
// so that a change to the header's format fails here rather than making
// OnLoop quietly false.
func TestGoroutineID(t *testing.T) {
	buf := make([]byte, 64)
	head := strings.Fields(string(buf[:runtime.Stack(buf, false)]))
	want, err := strconv.ParseUint(head[1], 10, 64)
	if err != nil || head[0] != "goroutine" {
		t.Fatalf("unexpected stack header %q", head)
	}
	if got := goroutineID(); got != want || got == 0 {
		t.Fatalf("goroutineID() = %d, stack says %d", got, want)
	}
	other := make(chan uint64)
	go func() { other <- goroutineID() }()
	if id := <-other; id == want || id == 0 {
		t.Fatalf("another goroutine's id = %d, ours %d", id, want)
	}
}

func TestOnLoop(t *testing.T) {
	l := start(t, Config{CPU: NoCPU, LockOSThread: true})
	if l.OnLoop() {
		t.Fatal("OnLoop true on the test goroutine")
	}
	var inside bool
	on(t, l, func() { inside = l.OnLoop() })
	if !inside {
		t.Fatal("OnLoop false in a task on the loop")
	}
	other := start(t, Config{CPU: NoCPU})
	var cross bool
	on(t, other, func() { cross = l.OnLoop() })
	if cross {
		t.Fatal("OnLoop true on another loop's goroutine")
	}
	stopped, err := New(Config{CPU: NoCPU})
	if err != nil {
		t.Fatal(err)
	}
	stopped.Close()
	if stopped.OnLoop() {
		t.Fatal("OnLoop true for a loop that never ran")
	}
}
