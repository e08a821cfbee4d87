package main

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// vmRSS returns the process's resident set size in bytes, from
// /proc/self/status.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestNonReadersStayBounded: 30 clients pipeline GETs as fast as the
// server takes them and never read. Each costs the server about its high
// watermark of queued responses (and the ring buffer holding them), not
// the outbound limit: the server stops answering, and mill stops reading,
// once a connection's output passes the watermark. Before flow control
// the same load took the command from 17 MB to 813 MB. The bound is
// generous (4 MiB a client); the figures are logged, and measured on the
// real binary in docs/robustness.md. Not under -race (which multiplies
// memory) or -short.
func TestNonReadersStayBounded(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("an RSS bound: not under -race or -short")
	}
	const clients = 30
	cfg := DefaultConfig
	cfg.Loops = 2
	s, h := startHandler(t, cfg)
	runtime.GC()
	debug.FreeOSMemory()
	before := vmRSS(t)

	req := bytes.Repeat([]byte(get), 1000)
	for range clients {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		go func() {
			for {
				if _, err := c.Write(req); err != nil {
					return // closed at the end of the test
				}
			}
		}()
	}
	// Steady state: every connection has stopped being read (its output
	// is past the high watermark), and nothing more comes in.
	deadline := time.Now().Add(15 * time.Second)
	var last mill.LoopStats
	for {
		time.Sleep(200 * time.Millisecond) // a sampling period, not an ordering
		st := s.Stats().Total
		if st.Open == clients && st.FlowPauses >= clients && st.BytesIn == last.BytesIn {
			last = st
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no steady state after 15 s: %+v", st)
		}
		last = st
	}
	grew := vmRSS(t) - before
	t.Logf("%d clients that never read: RSS grew %.1f MB (%.2f MB a client); %.1f MB of responses queued; %d requests held back; %d MB read",
		clients, float64(grew)/1e6, float64(grew)/1e6/clients, float64(last.OutboundPending)/1e6, h.held.Load(), last.BytesIn>>20)
	if per := int64(mill.DefaultHighWatermark + flushAt + 4<<10); last.OutboundPending > clients*per {
		t.Errorf("%d bytes queued, more than %d clients × (high watermark + a batch)", last.OutboundPending, clients)
	}
	if grew > clients*4<<20 {
		t.Errorf("RSS grew %d bytes for %d clients that never read: more than 4 MiB each", grew, clients)
	}
	if last.Closed.SlowConsumer != 0 {
		t.Errorf("%d closed as slow consumers", last.Closed.SlowConsumer)
	}
}
