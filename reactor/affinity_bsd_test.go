//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

import "testing"

func TestCPUAffinityRefused(t *testing.T) {
	if _, err := New(Config{Pin: true, CPU: 0}); err == nil {
		t.Fatal("New accepted a CPU where pinning is unsupported")
	}
}
